// Package memory is the reference store of sessions, approval requests and
// break-glass events: maps behind one mutex. Core tests use it and the
// conformance suite runs it first. It holds only values it encoded itself,
// so it can never hold a corrupt record and never returns ports.ErrCorrupt.
package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Store is an in-memory ports.Stores, safe for concurrent use.
type Store struct {
	clock ports.Clock

	mu       sync.RWMutex // one for every table
	sessions *table[ports.Session]
	requests *table[ports.ApprovalRequest]
	events   *table[ports.BreakGlassEvent]
	locks    *table[ports.Lock]
}

var _ ports.Stores = (*Store)(nil)

// New returns an empty store that decides expiry with clock.
func New(clock ports.Clock) *Store {
	m := &Store{clock: clock}
	m.sessions = &table[ports.Session]{
		m: m, noun: "session", plural: "sessions", rows: make(map[string]ports.Session),
		position: ports.SessionPosition,
		valid:    func(s ports.Session) bool { return s.Status.Valid() },
		status:   func(s ports.Session) string { return string(s.Status) },
		stored:   normalize, asOf: effectiveAt,
		version: func(s *ports.Session) *int64 { return &s.Version },
		lapsed:  ports.Session.Lapsed,
		expire: func(s *ports.Session, now time.Time) {
			s.Status, s.UpdatedAt = ports.SessionExpired, now
		},
	}
	m.requests = &table[ports.ApprovalRequest]{
		m: m, noun: "request", plural: "requests", rows: make(map[string]ports.ApprovalRequest),
		position: ports.RequestPosition,
		valid:    func(r ports.ApprovalRequest) bool { return r.Status.Valid() },
		status:   func(r ports.ApprovalRequest) string { return string(r.Status) },
		stored:   normalizeRequest, asOf: effectiveRequest,
		version: func(r *ports.ApprovalRequest) *int64 { return &r.Version },
		lapsed:  ports.ApprovalRequest.Lapsed,
		expire: func(r *ports.ApprovalRequest, now time.Time) {
			r.Status, r.UpdatedAt = ports.RequestExpired, now
		},
	}
	m.events = &table[ports.BreakGlassEvent]{
		m: m, noun: "break-glass", plural: "break-glass", rows: make(map[string]ports.BreakGlassEvent),
		position: ports.BreakGlassPosition,
		valid:    func(e ports.BreakGlassEvent) bool { return e.Status.Valid() },
		status:   func(e ports.BreakGlassEvent) string { return string(e.Status) },
		stored:   normalizeEvent, asOf: effectiveEvent,
		version: func(e *ports.BreakGlassEvent) *int64 { return &e.Version },
		lapsed:  ports.BreakGlassEvent.Lapsed,
		expire: func(e *ports.BreakGlassEvent, now time.Time) {
			e.Status, e.UpdatedAt = ports.BreakGlassExpired, now
		},
	}
	m.locks = &table[ports.Lock]{
		m: m, noun: "lock", plural: "locks", rows: make(map[string]ports.Lock),
		position: ports.LockPosition,
		stored:   ports.Lock.InUTC, asOf: func(l ports.Lock, _ time.Time) ports.Lock { return l },
		version: func(l *ports.Lock) *int64 { return &l.Version },
	}
	return m
}

// The records hold values, and the session's handle lists are copied on the
// way in and out (cloneLists), so a stored record never aliases a caller's.

// CreateSession stores s with Version 1.
func (m *Store) CreateSession(ctx context.Context, s ports.Session) (ports.Session, error) {
	return m.sessions.create(ctx, s, nil)
}

// GetSession returns the session as it reads now.
func (m *Store) GetSession(ctx context.Context, id string) (ports.Session, error) {
	return m.sessions.get(ctx, id)
}

// UpdateSession replaces the record when the stored Version equals s.Version.
func (m *Store) UpdateSession(ctx context.Context, s ports.Session) (ports.Session, error) {
	return m.sessions.update(ctx, s)
}

// TouchSession adds n requests and moves LastAccessAt forward to at.
func (m *Store) TouchSession(ctx context.Context, id string, at time.Time, n int64) (ports.Session, error) {
	if err := m.sessions.ref(ctx, "touch", id); err != nil {
		return ports.Session{}, err
	}
	if n < 0 {
		return ports.Session{}, fmt.Errorf("memory: touch session %q: negative count %d: %w", id, n, ports.ErrInvalidArgument)
	}
	at = at.UTC()
	now := m.clock.Now().UTC()
	return m.sessions.change(ctx, "touch", id, func(s ports.Session) (ports.Session, error) {
		s.RequestCount += n
		if at.After(s.LastAccessAt) {
			s.LastAccessAt = at
		}
		s.UpdatedAt = now
		return s, nil
	})
}

// ListSessionsByUser lists the user's sessions, newest first.
func (m *Store) ListSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	return sessionPage(m.sessions.list(ctx, "by user", p, func(s ports.Session) bool { return s.User == user }))
}

// ListSessionsByProfile lists the profile's sessions, newest first.
func (m *Store) ListSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	return sessionPage(m.sessions.list(ctx, "by profile", p, func(s ports.Session) bool { return s.Profile == profile }))
}

// ListSessionsByStatus lists sessions whose effective status is status, newest first.
func (m *Store) ListSessionsByStatus(ctx context.Context, status ports.SessionStatus, p ports.Page) (ports.SessionPage, error) {
	return sessionPage(m.sessions.listByStatus(ctx, string(status), status.Valid(), p))
}

// ListSessionsByServerInstance lists the server instance's sessions, newest first.
func (m *Store) ListSessionsByServerInstance(ctx context.Context, instanceID string, p ports.Page) (ports.SessionPage, error) {
	return sessionPage(m.sessions.list(ctx, "by server instance", p, func(s ports.Session) bool { return s.ServerInstanceID == instanceID }))
}

func sessionPage(items []ports.Session, next string, err error) (ports.SessionPage, error) {
	return ports.SessionPage{Sessions: items, Next: next}, err
}

// ExpireLapsedSessions marks every active session whose lease ended at or
// before now as expired.
func (m *Store) ExpireLapsedSessions(ctx context.Context, now time.Time) (int, error) {
	return m.sessions.expireLapsed(ctx, now)
}

// Close does nothing; the map is dropped with the Store.
func (m *Store) Close() error { return nil }

// effectiveAt reports a lapsed active session as expired, Version unchanged.
func effectiveAt(s ports.Session, now time.Time) ports.Session {
	if s.Lapsed(now) {
		s.Status = ports.SessionExpired
	}
	return cloneLists(s)
}

// normalize stores times in UTC without a monotonic reading, as an encoding
// backend would, so what the memory store returns matches the others.
func normalize(s ports.Session) ports.Session {
	s.StartedAt = s.StartedAt.UTC()
	s.LastAccessAt = s.LastAccessAt.UTC()
	s.ExpiresAt = s.ExpiresAt.UTC()
	s.RevokedAt = s.RevokedAt.UTC()
	s.CreatedAt = s.CreatedAt.UTC()
	s.UpdatedAt = s.UpdatedAt.UTC()
	return cloneLists(s)
}

// cloneLists copies the session's lists, an empty list read back as nil
// like the encoding backends do.
func cloneLists(s ports.Session) ports.Session {
	s.RoleARNs = cloneList(s.RoleARNs)
	s.AssumedRoleIDs = cloneList(s.AssumedRoleIDs)
	return s
}

func cloneList(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return slices.Clone(l)
}
