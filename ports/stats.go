package ports

import (
	"context"
	"time"
)

// RecordStats describes one record type in a store: how many records it
// holds in each stored status, and the oldest of them.
type RecordStats struct {
	// ByStatus counts the records by stored status. A lapsed record that
	// no sweep has expired yet still counts under its stored status
	// (active, pending, approved), so callers sweep first.
	ByStatus map[string]int64 `json:"by_status"`
	// Total is the sum of ByStatus.
	Total int64 `json:"total"`
	// OldestID and OldestAt name the record with the earliest CreatedAt;
	// both empty when there is none.
	OldestID string    `json:"oldest_id,omitempty"`
	OldestAt time.Time `json:"oldest_at,omitzero"`
}

// StoreStats is what `sentinel store stats` shows: each record type's
// counts and oldest record.
type StoreStats struct {
	Sessions   RecordStats `json:"sessions"`
	Requests   RecordStats `json:"requests"`
	BreakGlass RecordStats `json:"break_glass"`
}

// StatsReader reports a store's StoreStats. Every store adapter implements
// it from its status indexes (counting index entries, never decoding every
// record) and says in its doc comment what the count costs.
type StatsReader interface {
	Stats(ctx context.Context) (StoreStats, error)
}

// Note adds one record of status created at `at` to r, keeping the oldest.
// Adapters that walk their records use it.
func (r *RecordStats) Note(status, id string, at time.Time) {
	r.Add(status, 1)
	r.NoteOldest(id, at)
}

// Add counts n more records of status.
func (r *RecordStats) Add(status string, n int64) {
	if r.ByStatus == nil {
		r.ByStatus = map[string]int64{}
	}
	r.ByStatus[status] += n
	r.Total += n
}

// NoteOldest keeps (id, at) when it is older than the oldest so far, in
// listing order (CreatedAt, then ID).
func (r *RecordStats) NoteOldest(id string, at time.Time) {
	if id == "" {
		return
	}
	if r.OldestID == "" || ComparePosition(at, id, r.OldestAt, r.OldestID) > 0 {
		r.OldestID, r.OldestAt = id, at.UTC()
	}
}
