package memory

import (
	"context"
	"fmt"

	"github.com/sentinel-gw/sentinel/ports"
)

var _ ports.StatsReader = (*Store)(nil)

// Stats counts every record by stored status, walking the maps: the
// reference store keeps no index.
func (m *Store) Stats(ctx context.Context) (ports.StoreStats, error) {
	if err := ctx.Err(); err != nil {
		return ports.StoreStats{}, fmt.Errorf("memory: store stats: %w", err)
	}
	var st ports.StoreStats
	m.mu.RLock()
	defer m.mu.RUnlock()
	tally(m.sessions, &st.Sessions)
	tally(m.requests, &st.Requests)
	tally(m.events, &st.BreakGlass)
	return st, nil
}

func tally[T any](t *table[T], into *ports.RecordStats) {
	for _, rec := range t.rows {
		pos := t.position(rec)
		into.Note(t.status(rec), pos.ID, pos.CreatedAt)
	}
}
