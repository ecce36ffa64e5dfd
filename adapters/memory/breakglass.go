package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// CreateBreakGlass stores e with Version 1, refusing it while the invoker
// already has an effectively active event for the profile.
func (m *Store) CreateBreakGlass(ctx context.Context, e ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
	if err := checkRecord(ctx, "create break-glass", e.ID, e.Status.Valid(), e.Status); err != nil {
		return ports.BreakGlassEvent{}, err
	}
	e = normalizeEvent(e)
	e.Version = 1

	m.mu.Lock()
	defer m.mu.Unlock()
	if _, taken := m.events[e.ID]; taken {
		return ports.BreakGlassEvent{}, fmt.Errorf("memory: create break-glass %q: %w", e.ID, ports.ErrAlreadyExists)
	}
	now := m.clock.Now()
	if effectiveEvent(e, now).Status == ports.BreakGlassActive {
		for _, other := range m.events {
			if other.Invoker == e.Invoker && other.Profile == e.Profile && effectiveEvent(other, now).Status == ports.BreakGlassActive {
				return ports.BreakGlassEvent{}, fmt.Errorf("memory: create break-glass %q: an active break-glass exists for invoker %q and profile %q: %s: %w",
					e.ID, e.Invoker, e.Profile, other.ID, ports.ErrAlreadyExists)
			}
		}
	}
	m.events[e.ID] = e
	return effectiveEvent(e, now), nil
}

// GetBreakGlass returns the event as it reads now.
func (m *Store) GetBreakGlass(ctx context.Context, id string) (ports.BreakGlassEvent, error) {
	if err := checkRef(ctx, "get break-glass", id); err != nil {
		return ports.BreakGlassEvent{}, err
	}
	m.mu.RLock()
	e, ok := m.events[id]
	m.mu.RUnlock()
	if !ok {
		return ports.BreakGlassEvent{}, fmt.Errorf("memory: get break-glass %q: %w", id, ports.ErrNotFound)
	}
	return effectiveEvent(e, m.clock.Now()), nil
}

// UpdateBreakGlass replaces the record when the stored Version equals e.Version.
func (m *Store) UpdateBreakGlass(ctx context.Context, e ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
	if err := checkRecord(ctx, "update break-glass", e.ID, e.Status.Valid(), e.Status); err != nil {
		return ports.BreakGlassEvent{}, err
	}
	e = normalizeEvent(e)

	m.mu.Lock()
	defer m.mu.Unlock()
	stored, ok := m.events[e.ID]
	if !ok {
		return ports.BreakGlassEvent{}, fmt.Errorf("memory: update break-glass %q: %w", e.ID, ports.ErrNotFound)
	}
	if stored.Version != e.Version {
		return ports.BreakGlassEvent{}, fmt.Errorf("memory: update break-glass %q: stored version %d, caller's %d: %w",
			e.ID, stored.Version, e.Version, ports.ErrConflict)
	}
	e.Version = stored.Version + 1
	m.events[e.ID] = e
	return effectiveEvent(e, m.clock.Now()), nil
}

// ListBreakGlassByInvoker lists the invoker's events, newest first.
func (m *Store) ListBreakGlassByInvoker(ctx context.Context, invoker string, p ports.Page) (ports.BreakGlassPage, error) {
	return m.listEvents(ctx, "by invoker", p, func(e ports.BreakGlassEvent) bool { return e.Invoker == invoker })
}

// ListBreakGlassByProfile lists the profile's events, newest first.
func (m *Store) ListBreakGlassByProfile(ctx context.Context, profile string, p ports.Page) (ports.BreakGlassPage, error) {
	return m.listEvents(ctx, "by profile", p, func(e ports.BreakGlassEvent) bool { return e.Profile == profile })
}

// ListBreakGlassByStatus lists events whose effective status is status, newest first.
func (m *Store) ListBreakGlassByStatus(ctx context.Context, status ports.BreakGlassStatus, p ports.Page) (ports.BreakGlassPage, error) {
	if !status.Valid() {
		return ports.BreakGlassPage{}, fmt.Errorf("memory: list break-glass by status: unknown status %q: %w", status, ports.ErrInvalidArgument)
	}
	return m.listEvents(ctx, "by status", p, func(e ports.BreakGlassEvent) bool { return e.Status == status })
}

// ExpireLapsedBreakGlass stores expired for every active event that has run
// out at now, each change under the one lock.
func (m *Store) ExpireLapsedBreakGlass(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memory: expire lapsed break-glass: %w", err)
	}
	now = now.UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := 0
	for id, e := range m.events {
		if !e.Lapsed(now) {
			continue
		}
		e.Status = ports.BreakGlassExpired
		e.UpdatedAt = now
		e.Version++
		m.events[id] = e
		changed++
	}
	return changed, nil
}

// listEvents filters on the effective status and pages newest first.
func (m *Store) listEvents(ctx context.Context, what string, p ports.Page, match func(ports.BreakGlassEvent) bool) (ports.BreakGlassPage, error) {
	if err := ctx.Err(); err != nil {
		return ports.BreakGlassPage{}, fmt.Errorf("memory: list break-glass %s: %w", what, err)
	}
	now := m.clock.Now()
	var matched []ports.BreakGlassEvent
	m.mu.RLock()
	for _, e := range m.events {
		if e = effectiveEvent(e, now); match(e) {
			matched = append(matched, e)
		}
	}
	m.mu.RUnlock()
	items, next, err := pageOf(matched, p, ports.BreakGlassPosition)
	if err != nil {
		return ports.BreakGlassPage{}, fmt.Errorf("memory: list break-glass %s: %w", what, err)
	}
	return ports.BreakGlassPage{Events: items, Next: next}, nil
}

// effectiveEvent reports a lapsed active event as expired, Version unchanged.
func effectiveEvent(e ports.BreakGlassEvent, now time.Time) ports.BreakGlassEvent {
	if e.Lapsed(now) {
		e.Status = ports.BreakGlassExpired
	}
	return e
}

func normalizeEvent(e ports.BreakGlassEvent) ports.BreakGlassEvent {
	e.CreatedAt = e.CreatedAt.UTC()
	e.UpdatedAt = e.UpdatedAt.UTC()
	e.ExpiresAt = e.ExpiresAt.UTC()
	return e
}
