package conformance

import (
	"maps"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// testStats checks ports.StatsReader on a fresh store: counts by stored
// status for each record type, kept right through a revoke, and the oldest
// record of each.
func (s suite) testStats(t *testing.T) {
	t.Parallel()
	e := s.open(t)
	stats, ok := e.store.(ports.StatsReader)
	s.requireStore(t, "Store as ports.StatsReader", ok)
	s.requireStore(t, "Approvals", e.backend.Approvals != nil)
	s.requireStore(t, "BreakGlass", e.backend.BreakGlass != nil)
	ctx := t.Context()
	now := e.clock.Now()

	old := e.newSession()
	old.CreatedAt = now.Add(-48 * time.Hour)
	e.create(t, revoked(old, "conformance", now.Add(-47*time.Hour)))
	e.create(t, e.newSession())
	later := e.create(t, e.newSession())
	if _, err := revokeWithRetry(ctx, e.store, later.ID, "conformance", now); err != nil {
		t.Fatalf("revoke: %v", err)
	}

	oldReq := e.newRequest()
	oldReq.CreatedAt = now.Add(-72 * time.Hour)
	if _, err := e.backend.Approvals.CreateRequest(ctx, deniedAt(oldReq, "conformance", now.Add(-71*time.Hour))); err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}
	if _, err := e.backend.Approvals.CreateRequest(ctx, e.newRequest()); err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}

	oldEvent := e.newEvent()
	oldEvent.CreatedAt = now.Add(-24 * time.Hour)
	if _, err := e.backend.BreakGlass.CreateBreakGlass(ctx, closedAt(oldEvent, "conformance", now.Add(-23*time.Hour))); err != nil {
		t.Fatalf("CreateBreakGlass: %v", err)
	}

	got, err := stats.Stats(ctx)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	for _, c := range []struct {
		name     string
		got      ports.RecordStats
		want     map[string]int64
		oldestID string
		oldestAt time.Time
	}{
		{"sessions", got.Sessions, map[string]int64{"active": 1, "revoked": 2}, old.ID, old.CreatedAt},
		{"requests", got.Requests, map[string]int64{"pending": 1, "denied": 1}, oldReq.ID, oldReq.CreatedAt},
		{"break-glass events", got.BreakGlass, map[string]int64{"closed": 1}, oldEvent.ID, oldEvent.CreatedAt},
	} {
		counts := maps.Clone(c.got.ByStatus)
		maps.DeleteFunc(counts, func(_ string, n int64) bool { return n == 0 })
		var total int64
		for _, n := range c.want {
			total += n
		}
		if !maps.Equal(counts, c.want) || c.got.Total != total {
			t.Errorf("Stats: %s by status %v (total %d), want %v (total %d)", c.name, c.got.ByStatus, c.got.Total, c.want, total)
		}
		if c.got.OldestID != c.oldestID || !c.got.OldestAt.Equal(c.oldestAt.Truncate(Precision)) {
			t.Errorf("Stats: oldest of %s %s at %s, want %s at %s", c.name, c.got.OldestID, c.got.OldestAt, c.oldestID, c.oldestAt)
		}
	}
}
