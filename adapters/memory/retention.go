package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

var _ ports.RetentionSweeper = (*Store)(nil)

// DeleteRetired deletes the records retired at cutoff, under the store's
// lock. The reference store keeps no index: it walks every record.
func (m *Store) DeleteRetired(ctx context.Context, cut ports.Cutoffs, archive func(ports.RetiredRecord) error) (ports.RetiredCounts, error) {
	var got ports.RetiredCounts
	if err := ctx.Err(); err != nil {
		return got, fmt.Errorf("memory: delete retired records: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	if got.Sessions, err = dropRetired(m.sessions, cut.Sessions, archive, ports.SessionRetirement); err != nil {
		return got, err
	}
	if got.Requests, err = dropRetired(m.requests, cut.Requests, archive, ports.RequestRetirement); err != nil {
		return got, err
	}
	got.BreakGlass, err = dropRetired(m.events, cut.BreakGlass, archive, ports.BreakGlassRetirement)
	return got, err
}

func dropRetired[T any](t *table[T], cutoff time.Time, archive func(ports.RetiredRecord) error,
	how ports.Retirement[T],
) (int, error) {
	deleted := 0
	for id, rec := range t.rows {
		if !how.Retired(rec, cutoff) {
			continue
		}
		if archive != nil {
			if err := archive(how.Record(t.asOf(rec, cutoff))); err != nil {
				return deleted, fmt.Errorf("memory: delete retired %s: archive %s %q: %w", t.plural, t.noun, id, err)
			}
		}
		delete(t.rows, id)
		deleted++
	}
	return deleted, nil
}
