package redisstore

import (
	"context"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Hash fields of a break-glass event besides the common ones (codec.go and
// approvals.go).
const (
	fieldInvoker      = "invoker"
	fieldInvokerARN   = "invoker_arn"
	fieldReasonCode   = "reason_code"
	fieldEscalated    = "escalated"
	fieldClosedBy     = "closed_by"
	fieldClosedReason = "closed_reason"
)

// breakGlassKind: {P}:breakglass:<id>, indexed under
// {P}:idx:breakglass:{invoker,profile,status}:<value>. The unique "active"
// index holds the events stored active per invoker and profile; the create
// script refuses a new effectively active event while it holds another one
// that has not lapsed at the caller's now, so two creators (two processes,
// too) can never both win.
var breakGlassKind = newKind(kind[ports.BreakGlassEvent]{
	layout: &layout{
		name: "breakglass", noun: "break-glass event", plural: "break-glass events", indexSub: "breakglass:",
		ints:     []string{fieldDuration, fieldVersion},
		bools:    []string{fieldEscalated},
		statuses: []string{string(ports.BreakGlassActive), string(ports.BreakGlassClosed), string(ports.BreakGlassExpired)},
		lapsing:  []string{string(ports.BreakGlassActive)},
		expired:  string(ports.BreakGlassExpired),
		indexes: []index{
			{name: "invoker", fields: []string{fieldInvoker}},
			{name: "profile", fields: []string{fieldProfile}},
			{name: "status", fields: []string{fieldStatus}},
			{name: "active", fields: []string{fieldInvoker, fieldProfile}, status: string(ports.BreakGlassActive), unique: true},
		},
		eventPrefix: string(EventBreakGlass) + " ", announceCreate: true,
	},
	encode: func(e ports.BreakGlassEvent) []string {
		return []string{
			fieldID, e.ID,
			fieldInvoker, e.Invoker,
			fieldInvokerARN, e.InvokerARN,
			fieldProfile, e.Profile,
			fieldReasonCode, e.ReasonCode,
			fieldJustification, e.Justification,
			fieldDuration, encodeInt(int64(e.Duration)),
			fieldStatus, string(e.Status),
			fieldEscalated, encodeBool(e.Escalated),
			fieldCreated, encodeTime(e.CreatedAt),
			fieldUpdated, encodeTime(e.UpdatedAt),
			fieldExpires, encodeTime(e.ExpiresAt),
			fieldClosedBy, e.ClosedBy,
			fieldClosedReason, e.ClosedReason,
		}
	},
	read: func(d *decoder) ports.BreakGlassEvent {
		return ports.BreakGlassEvent{
			ID:            d.text(fieldID),
			Invoker:       d.text(fieldInvoker),
			InvokerARN:    d.text(fieldInvokerARN),
			Profile:       d.text(fieldProfile),
			ReasonCode:    d.text(fieldReasonCode),
			Justification: d.text(fieldJustification),
			Duration:      d.duration(fieldDuration),
			Status:        ports.BreakGlassStatus(d.text(fieldStatus)),
			Escalated:     d.bool(fieldEscalated),
			CreatedAt:     d.time(fieldCreated),
			UpdatedAt:     d.time(fieldUpdated),
			ExpiresAt:     d.time(fieldExpires),
			ClosedBy:      d.text(fieldClosedBy),
			ClosedReason:  d.text(fieldClosedReason),
			Version:       d.int(fieldVersion),
		}
	},
	timesOf: func(e *ports.BreakGlassEvent) map[string]*time.Time {
		return map[string]*time.Time{fieldCreated: &e.CreatedAt, fieldUpdated: &e.UpdatedAt, fieldExpires: &e.ExpiresAt}
	},
	position:  ports.BreakGlassPosition,
	status:    func(e ports.BreakGlassEvent) string { return string(e.Status) },
	setStatus: func(e *ports.BreakGlassEvent, st string) { e.Status = ports.BreakGlassStatus(st) },
	version:   func(e *ports.BreakGlassEvent) *int64 { return &e.Version },
	lapsed:    ports.BreakGlassEvent.Lapsed,
})

// CreateBreakGlass stores in as given with Version 1. It fails with
// ports.ErrAlreadyExists when the id is taken, or, naming the event in the
// way, when in is effectively active and the invoker already has an
// effectively active event for the profile (judged by the store's clock,
// inside the write). An event in the way that cannot be read refuses it
// with ports.ErrCorrupt, naming that event.
func (s *Store) CreateBreakGlass(ctx context.Context, in ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
	return breakGlassKind.create(ctx, s, in)
}

// GetBreakGlass returns the event as it reads now.
func (s *Store) GetBreakGlass(ctx context.Context, id string) (ports.BreakGlassEvent, error) {
	return breakGlassKind.get(ctx, s, id)
}

// UpdateBreakGlass replaces the record when the stored Version equals
// in.Version. It does not apply the one-active rule: only create makes an
// event active (the core never reopens one).
func (s *Store) UpdateBreakGlass(ctx context.Context, in ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
	return breakGlassKind.update(ctx, s, in)
}

// ListBreakGlassByInvoker lists the invoker's events, newest first.
func (s *Store) ListBreakGlassByInvoker(ctx context.Context, invoker string, p ports.Page) (ports.BreakGlassPage, error) {
	items, next, err := breakGlassKind.listBy(ctx, s, "invoker", invoker, p)
	return ports.BreakGlassPage{Events: items, Next: next}, err
}

// ListBreakGlassByProfile lists the profile's events, newest first.
func (s *Store) ListBreakGlassByProfile(ctx context.Context, profile string, p ports.Page) (ports.BreakGlassPage, error) {
	items, next, err := breakGlassKind.listBy(ctx, s, "profile", profile, p)
	return ports.BreakGlassPage{Events: items, Next: next}, err
}

// ListBreakGlassByStatus lists the events whose effective status is status,
// newest first.
func (s *Store) ListBreakGlassByStatus(ctx context.Context, status ports.BreakGlassStatus, p ports.Page) (ports.BreakGlassPage, error) {
	items, next, err := breakGlassKind.listByStatus(ctx, s, string(status), p)
	return ports.BreakGlassPage{Events: items, Next: next}, err
}

// ExpireLapsedBreakGlass stores expired for every active event that has run
// out at now; see kind.expireLapsed.
func (s *Store) ExpireLapsedBreakGlass(ctx context.Context, now time.Time) (int, error) {
	return breakGlassKind.expireLapsed(ctx, s, now)
}
