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
	if got.Sessions, err = dropRetired(m.sessions, cut.Sessions, archive, ports.SessionRetired,
		func(r ports.Session) ports.RetiredRecord { return ports.RetiredRecord{Session: &r} }); err != nil {
		return got, err
	}
	if got.Requests, err = dropRetired(m.requests, cut.Requests, archive, ports.RequestRetired,
		func(r ports.ApprovalRequest) ports.RetiredRecord { return ports.RetiredRecord{Request: &r} }); err != nil {
		return got, err
	}
	got.BreakGlass, err = dropRetired(m.events, cut.BreakGlass, archive, ports.BreakGlassRetired,
		func(e ports.BreakGlassEvent) ports.RetiredRecord { return ports.RetiredRecord{BreakGlass: &e} })
	return got, err
}

func dropRetired[T any](t *table[T], cutoff time.Time, archive func(ports.RetiredRecord) error,
	retired func(T, time.Time) bool, wrap func(T) ports.RetiredRecord,
) (int, error) {
	deleted := 0
	for id, rec := range t.rows {
		if !retired(rec, cutoff) {
			continue
		}
		if archive != nil {
			if err := archive(wrap(t.asOf(rec, cutoff))); err != nil {
				return deleted, fmt.Errorf("memory: delete retired %s: archive %s %q: %w", t.plural, t.noun, id, err)
			}
		}
		delete(t.rows, id)
		deleted++
	}
	return deleted, nil
}
