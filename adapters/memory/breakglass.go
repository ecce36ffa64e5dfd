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
	return m.events.create(ctx, e, func(e ports.BreakGlassEvent, now time.Time) error {
		if effectiveEvent(e, now).Status != ports.BreakGlassActive {
			return nil
		}
		for _, other := range m.events.rows {
			if other.Invoker == e.Invoker && other.Profile == e.Profile && effectiveEvent(other, now).Status == ports.BreakGlassActive {
				return fmt.Errorf("an active break-glass exists for invoker %q and profile %q: %s: %w",
					e.Invoker, e.Profile, other.ID, ports.ErrAlreadyExists)
			}
		}
		return nil
	})
}

// GetBreakGlass returns the event as it reads now.
func (m *Store) GetBreakGlass(ctx context.Context, id string) (ports.BreakGlassEvent, error) {
	return m.events.get(ctx, id)
}

// UpdateBreakGlass replaces the record when the stored Version equals e.Version.
func (m *Store) UpdateBreakGlass(ctx context.Context, e ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
	return m.events.update(ctx, e)
}

// ListBreakGlassByInvoker lists the invoker's events, newest first.
func (m *Store) ListBreakGlassByInvoker(ctx context.Context, invoker string, p ports.Page) (ports.BreakGlassPage, error) {
	return eventPage(m.events.list(ctx, "by invoker", p, func(e ports.BreakGlassEvent) bool { return e.Invoker == invoker }))
}

// ListBreakGlassByProfile lists the profile's events, newest first.
func (m *Store) ListBreakGlassByProfile(ctx context.Context, profile string, p ports.Page) (ports.BreakGlassPage, error) {
	return eventPage(m.events.list(ctx, "by profile", p, func(e ports.BreakGlassEvent) bool { return e.Profile == profile }))
}

// ListBreakGlassByStatus lists events whose effective status is status, newest first.
func (m *Store) ListBreakGlassByStatus(ctx context.Context, status ports.BreakGlassStatus, p ports.Page) (ports.BreakGlassPage, error) {
	return eventPage(m.events.listByStatus(ctx, string(status), status.Valid(), p))
}

func eventPage(items []ports.BreakGlassEvent, next string, err error) (ports.BreakGlassPage, error) {
	return ports.BreakGlassPage{Events: items, Next: next}, err
}

// ExpireLapsedBreakGlass stores expired for every active event that has run
// out at now.
func (m *Store) ExpireLapsedBreakGlass(ctx context.Context, now time.Time) (int, error) {
	return m.events.expireLapsed(ctx, now)
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
