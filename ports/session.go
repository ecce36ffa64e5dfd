package ports

import (
	"context"
	"time"
)

// SessionStatus is the state of a server session. Only active -> revoked and
// active -> expired are allowed; revoked and expired are terminal.
type SessionStatus string

// The session states.
const (
	SessionActive  SessionStatus = "active"
	SessionRevoked SessionStatus = "revoked"
	SessionExpired SessionStatus = "expired"
)

// Valid reports whether s is one of the known states.
func (s SessionStatus) Valid() bool {
	return s == SessionActive || s == SessionRevoked || s == SessionExpired
}

// Session is one `sentinel exec --server` run, tracked so it can be listed and revoked.
type Session struct {
	ID   string `json:"id"` // 128-bit random, 32 lowercase hex characters
	User string `json:"user"`
	// UserARN is the owner's principal ARN when the session was opened at a
	// broker (team mode), which checks it on every call; empty in solo mode.
	UserARN          string        `json:"user_arn,omitempty"`
	Profile          string        `json:"profile"`
	ServerInstanceID string        `json:"server_instance_id"`
	Status           SessionStatus `json:"status"`
	// IdentitySource says how User was resolved: "sts" or "os".
	IdentitySource string    `json:"identity_source,omitempty"`
	StartedAt      time.Time `json:"started_at"`
	LastAccessAt   time.Time `json:"last_access_at"`
	// ExpiresAt is the heartbeat lease: an active session whose ExpiresAt has
	// passed reads as expired.
	ExpiresAt      time.Time `json:"expires_at"`
	RequestCount   int64     `json:"request_count"`
	SourceIdentity string    `json:"source_identity"`
	RevokedBy      string    `json:"revoked_by"`
	RevokedReason  string    `json:"revoked_reason"`
	RevokedAt      time.Time `json:"revoked_at,omitzero"` // absent until revoked
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	// Version is owned by the store: create writes 1, every successful write adds 1.
	Version int64 `json:"version"`

	// RoleARNs lists each role the session assumed at AWS, and
	// AssumedRoleIDs each AssumedRoleId STS answered ("AROA...:<session
	// name>"), in first-seen order without repeats. With SourceIdentity they
	// are the handles a deny at AWS can target this one session by.
	RoleARNs       []string `json:"role_arns,omitempty"`
	AssumedRoleIDs []string `json:"assumed_role_ids,omitempty"`
	// RevocationPoll is the serving process's --revocation-poll: how often it
	// re-reads the session when it has no change feed. A revoker waits out
	// bounds derived from it (see session.RereadBound). Zero on records
	// written before it was kept: read as the default.
	RevocationPoll time.Duration `json:"revocation_poll,omitempty"`
}

// Lapsed reports whether an active session's lease has run out at now.
func (s Session) Lapsed(now time.Time) bool {
	return s.Status == SessionActive && !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt)
}

// Page asks for one page of a listing. Limit must be 1..MaxPageLimit; Cursor
// is empty for the first page, otherwise the Next of the previous page.
type Page struct {
	Limit  int
	Cursor string
}

// MaxPageLimit bounds one page of any listing.
const MaxPageLimit = 1000

// SessionPage is one page of sessions, newest (CreatedAt, then ID) first.
// Next is empty on the last page.
type SessionPage struct {
	Sessions []Session
	Next     string
}

// SessionStore persists server sessions.
//
// Every adapter holds an injected Clock and decides expiry on read: a session
// whose stored status is active but whose ExpiresAt has passed is returned with
// Status expired (its Version unchanged). A server-side TTL is only garbage
// collection.
type SessionStore interface {
	// CreateSession stores s with Version 1 and returns the stored record.
	// Errors: ErrAlreadyExists when the id is taken; ErrInvalidArgument when
	// s.ID is empty or s.Status is not valid.
	CreateSession(ctx context.Context, s Session) (Session, error)

	// GetSession returns the session. Errors: ErrNotFound; ErrCorrupt when the
	// stored record cannot be decoded.
	GetSession(ctx context.Context, id string) (Session, error)

	// UpdateSession replaces the record when the stored Version equals
	// s.Version, writing Version+1, and returns the stored record. Errors:
	// ErrNotFound when the record is gone; ErrConflict when the version differs.
	// The store does not judge transitions: the core does, before calling.
	UpdateSession(ctx context.Context, s Session) (Session, error)

	// TouchSession atomically adds n to RequestCount and moves LastAccessAt
	// forward to at (never backward), bumping Version and UpdatedAt. It changes
	// no other field, so a touch can never undo a revoke. Errors: ErrNotFound.
	TouchSession(ctx context.Context, id string, at time.Time, n int64) (Session, error)

	// ListSessionsByUser, ...ByProfile, ...ByStatus and ...ByServerInstance
	// return sessions newest first (CreatedAt descending, then ID descending).
	// ByStatus filters on the effective status (a lapsed active session is
	// listed as expired, not active). Errors: ErrInvalidArgument for a bad
	// limit or cursor.
	ListSessionsByUser(ctx context.Context, user string, p Page) (SessionPage, error)
	ListSessionsByProfile(ctx context.Context, profile string, p Page) (SessionPage, error)
	ListSessionsByStatus(ctx context.Context, status SessionStatus, p Page) (SessionPage, error)
	ListSessionsByServerInstance(ctx context.Context, instanceID string, p Page) (SessionPage, error)

	// ExpireLapsedSessions marks every active session whose ExpiresAt is at or
	// before now as expired (a conditional write each, so it never overwrites a
	// concurrent revoke) and returns how many it changed.
	ExpireLapsedSessions(ctx context.Context, now time.Time) (int, error)

	// Close releases the store's resources.
	Close() error
}
