package metrics

import (
	"context"
	"fmt"

	"github.com/sentinel-gw/sentinel/ports"
)

// Stores is SessionStore for a whole store (a broker's): the session
// methods are timed and counted, the rest pass through, and so do the
// optional ports every adapter implements (active listings, stats, the
// retention sweep), so wrapping costs a caller none of them.
func (m *Metrics) Stores(next ports.Stores) ports.Stores {
	return &stores{sessionStore: &sessionStore{SessionStore: next, m: m}, rest: rest{next}}
}

// stores puts the timed session methods at depth 1, above the embedded
// store's own (depth 2).
type stores struct {
	*sessionStore
	rest
}

type rest struct{ ports.Stores }

var (
	_ ports.ActiveSessionLister = (*stores)(nil)
	_ ports.StatsReader         = (*stores)(nil)
	_ ports.RetentionSweeper    = (*stores)(nil)
)

func (s *stores) ListActiveSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	l, ok := s.Stores.(ports.ActiveSessionLister)
	if !ok {
		return ports.SessionPage{}, fmt.Errorf("metrics: this store lists no active sessions by user: %w", ports.ErrInvalidArgument)
	}
	return timed(s.m, "ListActiveSessionsByUser", func() (ports.SessionPage, error) { return l.ListActiveSessionsByUser(ctx, user, p) })
}

func (s *stores) ListActiveSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	l, ok := s.Stores.(ports.ActiveSessionLister)
	if !ok {
		return ports.SessionPage{}, fmt.Errorf("metrics: this store lists no active sessions by profile: %w", ports.ErrInvalidArgument)
	}
	return timed(s.m, "ListActiveSessionsByProfile", func() (ports.SessionPage, error) { return l.ListActiveSessionsByProfile(ctx, profile, p) })
}

func (s *stores) Stats(ctx context.Context) (ports.StoreStats, error) {
	r, ok := s.Stores.(ports.StatsReader)
	if !ok {
		return ports.StoreStats{}, fmt.Errorf("metrics: this store keeps no stats: %w", ports.ErrInvalidArgument)
	}
	return r.Stats(ctx)
}

func (s *stores) DeleteRetired(ctx context.Context, cut ports.Cutoffs, archive func(ports.RetiredRecord) error) (ports.RetiredCounts, error) {
	r, ok := s.Stores.(ports.RetentionSweeper)
	if !ok {
		return ports.RetiredCounts{}, fmt.Errorf("metrics: this store cannot delete retired records: %w", ports.ErrInvalidArgument)
	}
	return r.DeleteRetired(ctx, cut, archive)
}

// Close closes the store once.
func (s *stores) Close() error { return s.Stores.Close() }
