package ports

import (
	"context"
	"time"
)

// BreakGlassStatus is the state of a break-glass event: active -> closed | expired.
type BreakGlassStatus string

// The break-glass states.
const (
	BreakGlassActive  BreakGlassStatus = "active"
	BreakGlassClosed  BreakGlassStatus = "closed"
	BreakGlassExpired BreakGlassStatus = "expired"
)

// Valid reports whether s is one of the known states.
func (s BreakGlassStatus) Valid() bool {
	return s == BreakGlassActive || s == BreakGlassClosed || s == BreakGlassExpired
}

// BreakGlassEvent is emergency access with a written justification.
type BreakGlassEvent struct {
	ID            string           `json:"id"` // 32 lowercase hex
	Invoker       string           `json:"invoker"`
	InvokerARN    string           `json:"invoker_arn"` // empty for an OS identity
	Profile       string           `json:"profile"`
	ReasonCode    string           `json:"reason_code"` // incident, maintenance, security, recovery, other
	Justification string           `json:"justification"`
	Duration      time.Duration    `json:"duration"`
	Status        BreakGlassStatus `json:"status"`
	// Escalated is set when the invoker passed the policy's escalation threshold.
	Escalated    bool      `json:"escalated"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	ClosedBy     string    `json:"closed_by"`
	ClosedReason string    `json:"closed_reason"`
	Version      int64     `json:"version"`
}

// Lapsed reports whether an active event has run out at now.
func (e BreakGlassEvent) Lapsed(now time.Time) bool {
	return e.Status == BreakGlassActive && !e.ExpiresAt.IsZero() && !now.Before(e.ExpiresAt)
}

// BreakGlassPage is one page of events, newest (CreatedAt, then ID) first.
type BreakGlassPage struct {
	Events []BreakGlassEvent
	Next   string
}

// BreakGlassStore persists break-glass events, with the same contract style
// as SessionStore (versions, expiry on read, newest-first listings).
type BreakGlassStore interface {
	// CreateBreakGlass stores e with Version 1. It fails with ErrAlreadyExists
	// when the id is taken OR when the same invoker already has an effectively
	// active event for the same profile: the store enforces "one active event
	// per invoker and profile" atomically.
	CreateBreakGlass(ctx context.Context, e BreakGlassEvent) (BreakGlassEvent, error)
	// GetBreakGlass: ErrNotFound, ErrCorrupt.
	GetBreakGlass(ctx context.Context, id string) (BreakGlassEvent, error)
	// UpdateBreakGlass: ErrNotFound when gone, ErrConflict on a version mismatch.
	UpdateBreakGlass(ctx context.Context, e BreakGlassEvent) (BreakGlassEvent, error)
	ListBreakGlassByInvoker(ctx context.Context, invoker string, p Page) (BreakGlassPage, error)
	ListBreakGlassByProfile(ctx context.Context, profile string, p Page) (BreakGlassPage, error)
	ListBreakGlassByStatus(ctx context.Context, status BreakGlassStatus, p Page) (BreakGlassPage, error)
	// ExpireLapsedBreakGlass stores expired for every lapsed active event.
	ExpireLapsedBreakGlass(ctx context.Context, now time.Time) (int, error)
}

// Stores is what a backend offers; a caller takes the ports it needs.
type Stores interface {
	SessionStore
	ApprovalStore
	BreakGlassStore
	LockStore
}
