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

	mu       sync.RWMutex
	sessions map[string]ports.Session
	requests map[string]ports.ApprovalRequest
	events   map[string]ports.BreakGlassEvent
	locks    map[string]ports.Lock
}

var _ ports.Stores = (*Store)(nil)

// New returns an empty store that decides expiry with clock.
func New(clock ports.Clock) *Store {
	return &Store{
		clock:    clock,
		sessions: make(map[string]ports.Session),
		requests: make(map[string]ports.ApprovalRequest),
		events:   make(map[string]ports.BreakGlassEvent),
		locks:    make(map[string]ports.Lock),
	}
}

// The records hold values, and the session's handle lists are copied on the
// way in and out (cloneLists), so a stored record never aliases a caller's.

// CreateSession stores s with Version 1.
func (m *Store) CreateSession(ctx context.Context, s ports.Session) (ports.Session, error) {
	if err := ctx.Err(); err != nil {
		return ports.Session{}, fmt.Errorf("memory: create session %q: %w", s.ID, err)
	}
	if s.ID == "" {
		return ports.Session{}, fmt.Errorf("memory: create session: empty id: %w", ports.ErrInvalidArgument)
	}
	if !s.Status.Valid() {
		return ports.Session{}, fmt.Errorf("memory: create session %q: unknown status %q: %w", s.ID, s.Status, ports.ErrInvalidArgument)
	}
	s = normalize(s)
	s.Version = 1

	m.mu.Lock()
	defer m.mu.Unlock()
	if _, taken := m.sessions[s.ID]; taken {
		return ports.Session{}, fmt.Errorf("memory: create session %q: %w", s.ID, ports.ErrAlreadyExists)
	}
	m.sessions[s.ID] = s
	return m.effective(s), nil
}

// GetSession returns the session as it reads now.
func (m *Store) GetSession(ctx context.Context, id string) (ports.Session, error) {
	if err := checkID(ctx, "get", id); err != nil {
		return ports.Session{}, err
	}
	m.mu.RLock()
	s, ok := m.sessions[id]
	m.mu.RUnlock()
	if !ok {
		return ports.Session{}, fmt.Errorf("memory: get session %q: %w", id, ports.ErrNotFound)
	}
	return m.effective(s), nil
}

// UpdateSession replaces the record when the stored Version equals s.Version.
func (m *Store) UpdateSession(ctx context.Context, s ports.Session) (ports.Session, error) {
	if err := checkID(ctx, "update", s.ID); err != nil {
		return ports.Session{}, err
	}
	if !s.Status.Valid() {
		return ports.Session{}, fmt.Errorf("memory: update session %q: unknown status %q: %w", s.ID, s.Status, ports.ErrInvalidArgument)
	}
	s = normalize(s)

	m.mu.Lock()
	defer m.mu.Unlock()
	stored, ok := m.sessions[s.ID]
	if !ok {
		return ports.Session{}, fmt.Errorf("memory: update session %q: %w", s.ID, ports.ErrNotFound)
	}
	if stored.Version != s.Version {
		return ports.Session{}, fmt.Errorf("memory: update session %q: stored version %d, caller's %d: %w",
			s.ID, stored.Version, s.Version, ports.ErrConflict)
	}
	s.Version = stored.Version + 1
	m.sessions[s.ID] = s
	return m.effective(s), nil
}

// TouchSession adds n requests and moves LastAccessAt forward to at.
func (m *Store) TouchSession(ctx context.Context, id string, at time.Time, n int64) (ports.Session, error) {
	if err := checkID(ctx, "touch", id); err != nil {
		return ports.Session{}, err
	}
	if n < 0 {
		return ports.Session{}, fmt.Errorf("memory: touch session %q: negative count %d: %w", id, n, ports.ErrInvalidArgument)
	}
	at = at.UTC()
	now := m.clock.Now().UTC()

	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return ports.Session{}, fmt.Errorf("memory: touch session %q: %w", id, ports.ErrNotFound)
	}
	s.RequestCount += n
	if at.After(s.LastAccessAt) {
		s.LastAccessAt = at
	}
	s.UpdatedAt = now
	s.Version++
	m.sessions[id] = s
	return m.effective(s), nil
}

// ListSessionsByUser lists the user's sessions, newest first.
func (m *Store) ListSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	return m.list(ctx, "by user", p, func(s ports.Session) bool { return s.User == user })
}

// ListSessionsByProfile lists the profile's sessions, newest first.
func (m *Store) ListSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	return m.list(ctx, "by profile", p, func(s ports.Session) bool { return s.Profile == profile })
}

// ListSessionsByStatus lists sessions whose effective status is status, newest first.
func (m *Store) ListSessionsByStatus(ctx context.Context, status ports.SessionStatus, p ports.Page) (ports.SessionPage, error) {
	if !status.Valid() {
		return ports.SessionPage{}, fmt.Errorf("memory: list sessions by status: unknown status %q: %w", status, ports.ErrInvalidArgument)
	}
	return m.list(ctx, "by status", p, func(s ports.Session) bool { return s.Status == status })
}

// ListSessionsByServerInstance lists the server instance's sessions, newest first.
func (m *Store) ListSessionsByServerInstance(ctx context.Context, instanceID string, p ports.Page) (ports.SessionPage, error) {
	return m.list(ctx, "by server instance", p, func(s ports.Session) bool { return s.ServerInstanceID == instanceID })
}

// ExpireLapsedSessions marks every active session whose lease ended at or
// before now as expired. Under the one lock each change is trivially
// conditional: nothing can revoke in between.
func (m *Store) ExpireLapsedSessions(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memory: expire lapsed sessions: %w", err)
	}
	now = now.UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := 0
	for id, s := range m.sessions {
		if !s.Lapsed(now) {
			continue
		}
		s.Status = ports.SessionExpired
		s.UpdatedAt = now
		s.Version++
		m.sessions[id] = s
		changed++
	}
	return changed, nil
}

// Close does nothing; the map is dropped with the Store.
func (m *Store) Close() error { return nil }

// list filters with match on the effective status and pages newest first.
func (m *Store) list(ctx context.Context, what string, p ports.Page, match func(ports.Session) bool) (ports.SessionPage, error) {
	if err := ctx.Err(); err != nil {
		return ports.SessionPage{}, fmt.Errorf("memory: list sessions %s: %w", what, err)
	}
	if p.Limit < 1 || p.Limit > ports.MaxPageLimit {
		return ports.SessionPage{}, fmt.Errorf("memory: list sessions %s: page limit %d outside 1..%d: %w",
			what, p.Limit, ports.MaxPageLimit, ports.ErrInvalidArgument)
	}
	var (
		afterTime time.Time
		afterID   string
	)
	if p.Cursor != "" {
		var err error
		if afterTime, afterID, err = ports.DecodeCursor(p.Cursor); err != nil {
			return ports.SessionPage{}, fmt.Errorf("memory: list sessions %s: %w", what, err)
		}
	}

	now := m.clock.Now()
	var matched []ports.Session
	m.mu.RLock()
	for _, s := range m.sessions {
		s = effectiveAt(s, now)
		if !match(s) {
			continue
		}
		if p.Cursor != "" && !ports.AfterCursor(s, afterTime, afterID) {
			continue
		}
		matched = append(matched, s)
	}
	m.mu.RUnlock()

	ports.SortNewestFirst(matched)
	page := ports.SessionPage{Sessions: matched}
	if len(matched) > p.Limit {
		page.Sessions = matched[:p.Limit:p.Limit]
		last := page.Sessions[p.Limit-1]
		page.Next = ports.EncodeCursor(last.CreatedAt, last.ID)
	}
	return page, nil
}

// effective returns s as it reads now.
func (m *Store) effective(s ports.Session) ports.Session {
	return effectiveAt(s, m.clock.Now())
}

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

func checkID(ctx context.Context, op, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s session %q: %w", op, id, err)
	}
	if id == "" {
		return fmt.Errorf("memory: %s session: empty id: %w", op, ports.ErrInvalidArgument)
	}
	return nil
}
