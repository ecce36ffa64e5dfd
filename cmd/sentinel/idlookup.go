package main

import (
	"context"
	"errors"

	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/ports"
)

// Every record (session, request, break-glass event) has a 32-hex id, and
// every command that takes one accepts a unique prefix of at least
// minIDPrefix characters. This file is the one place that resolves them.

// fullIDLen is a whole id: 128 bits as lowercase hex.
const fullIDLen = record.IDLen

// recordKind names a kind of record in messages.
type recordKind struct {
	noun string // "session"
	list string // the command that lists every one of them
}

var (
	sessionRecords    = recordKind{noun: "session", list: "sentinel server-sessions --status all"}
	requestRecords    = recordKind{noun: "request", list: "sentinel requests --status all"}
	breakGlassRecords = recordKind{noun: "break-glass", list: "sentinel breakglass-list --status all"}
)

func (k recordKind) kind() record.Kind { return record.Kind{Noun: k.noun, List: k.list} }

// checkID refuses a malformed id or prefix before any store is touched.
func (k recordKind) checkID(id string) error {
	if err := k.kind().CheckIDOrPrefix(id); err != nil {
		return usageError{refusal(err).Error()}
	}
	return nil
}

// listing reads one page of one index, newest first.
type listing[T any] = record.Listing[T]

// findByID gets a record by its full id, or by a unique id prefix found by
// scanning lists (together they must hold every record): record.Find, with
// a malformed id a usage error.
func findByID[T any](ctx context.Context, k recordKind, id string,
	get func(context.Context, string) (T, error), idOf func(T) string, lists ...listing[T],
) (T, error) {
	if err := k.checkID(id); err != nil {
		var zero T
		return zero, err
	}
	r, err := record.Find(ctx, k.kind(), id, get, idOf, lists...)
	if errors.Is(err, ports.ErrNotFound) || errors.Is(err, ports.ErrInvalidArgument) {
		return r, refusal(err)
	}
	return r, err
}

// validateIDOrPrefix refuses a malformed session id before any store is touched.
func validateIDOrPrefix(id string) error { return sessionRecords.checkID(id) }

// findSession gets a session by full id, or by a unique id prefix.
func findSession(ctx context.Context, store ports.SessionStore, id string) (ports.Session, error) {
	var lists []listing[ports.Session]
	for _, st := range []ports.SessionStatus{ports.SessionActive, ports.SessionRevoked, ports.SessionExpired} {
		lists = append(lists, func(ctx context.Context, p ports.Page) ([]ports.Session, string, error) {
			got, err := store.ListSessionsByStatus(ctx, st, p)
			return got.Sessions, got.Next, err
		})
	}
	return findByID(ctx, sessionRecords, id, store.GetSession, func(s ports.Session) string { return s.ID }, lists...)
}

// findRequest gets an approval request by full id, or by a unique id prefix.
func findRequest(ctx context.Context, store ports.ApprovalStore, id string) (ports.ApprovalRequest, error) {
	var lists []listing[ports.ApprovalRequest]
	for _, st := range requestStatuses {
		lists = append(lists, requestsByStatus(store, st))
	}
	return findByID(ctx, requestRecords, id, store.GetRequest, func(r ports.ApprovalRequest) string { return r.ID }, lists...)
}

// findBreakGlass gets a break-glass event by full id, or by a unique id prefix.
func findBreakGlass(ctx context.Context, store ports.BreakGlassStore, id string) (ports.BreakGlassEvent, error) {
	var lists []listing[ports.BreakGlassEvent]
	for _, st := range breakGlassStatuses {
		lists = append(lists, breakGlassByStatus(store, st))
	}
	return findByID(ctx, breakGlassRecords, id, store.GetBreakGlass, func(e ports.BreakGlassEvent) string { return e.ID }, lists...)
}
