package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sentinel-gw/sentinel/ports"
)

// Every record (session, request, break-glass event) has a 32-hex id, and
// every command that takes one accepts a unique prefix of at least
// minIDPrefix characters. This file is the one place that resolves them.

// minIDPrefix is the shortest id prefix commands accept.
const minIDPrefix = 8

// fullIDLen is a whole id: 128 bits as lowercase hex.
const fullIDLen = 32

// prefixScanLimit bounds the records one prefix lookup reads.
const prefixScanLimit = 100_000

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

// checkID refuses a malformed id or prefix before any store is touched.
func (k recordKind) checkID(id string) error {
	if len(id) >= minIDPrefix && len(id) <= fullIDLen && strings.Trim(id, "0123456789abcdef") == "" {
		return nil
	}
	shown := id
	if len(shown) > 80 {
		shown = shown[:80] + "..."
	}
	return usageError{fmt.Sprintf("%q is not a %s id: give the 32 lowercase hex characters from %s, or a unique prefix of at least %d",
		shown, k.noun, k.list, minIDPrefix)}
}

// listing reads one page of one index, newest first.
type listing[T any] func(ctx context.Context, p ports.Page) (items []T, next string, err error)

// findByID gets a record by its full id, or by a unique id prefix found by
// scanning lists (together they must hold every record).
func findByID[T any](ctx context.Context, k recordKind, id string,
	get func(context.Context, string) (T, error), idOf func(T) string, lists ...listing[T],
) (T, error) {
	var zero T
	if err := k.checkID(id); err != nil {
		return zero, err
	}
	if len(id) == fullIDLen {
		r, err := get(ctx, id)
		if errors.Is(err, ports.ErrNotFound) {
			return zero, fmt.Errorf("no %s with id %s (list them with %s)", k.noun, id, k.list)
		}
		return r, err
	}
	var matches []T
	scanned := 0
	for _, list := range lists {
		page := ports.Page{Limit: ports.MaxPageLimit}
		for scanned < prefixScanLimit {
			items, next, err := list(ctx, page)
			if err != nil {
				return zero, err
			}
			for _, r := range items {
				if strings.HasPrefix(idOf(r), id) {
					matches = append(matches, r)
				}
			}
			scanned += len(items)
			if next == "" {
				break
			}
			page.Cursor = next
		}
	}
	switch len(matches) {
	case 0:
		return zero, fmt.Errorf("no %s with id prefix %s (list them with %s)", k.noun, id, k.list)
	case 1:
		return matches[0], nil
	}
	ids := make([]string, 0, len(matches))
	for _, r := range matches {
		ids = append(ids, idOf(r))
	}
	return zero, fmt.Errorf("id prefix %s is ambiguous (%s): give more characters", id, strings.Join(ids, ", "))
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
