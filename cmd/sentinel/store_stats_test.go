package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/bolt"
	"github.com/sentinel-gw/sentinel/ports"
)

// store stats counts each record type by status, names the oldest, and
// stores lapsed sessions as expired first, as the listings do.
func TestStoreStats(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	store, err := bolt.Open(e.defaultStore(), ports.SystemClock{}, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	mk := func(i int, status ports.SessionStatus, created, expires time.Time) ports.Session {
		return ports.Session{ID: fmt.Sprintf("%032x", i), User: "alice", Profile: "prod", ServerInstanceID: "i",
			Status: status, CreatedAt: created, UpdatedAt: created, StartedAt: created, ExpiresAt: expires}
	}
	oldest := mk(1, ports.SessionRevoked, now.Add(-72*time.Hour), now.Add(-71*time.Hour))
	for _, s := range []ports.Session{
		oldest,
		mk(2, ports.SessionActive, now.Add(-time.Hour), now.Add(time.Hour)),
		mk(3, ports.SessionActive, now.Add(-2*time.Hour), now.Add(-time.Minute)), // lapsed: swept to expired
	} {
		if _, err := store.CreateSession(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}

	code, stdout, stderr := e.run("store", "stats", "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	var got ports.StoreStats
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	want := map[string]int64{"active": 1, "revoked": 1, "expired": 1}
	for st, n := range want {
		if got.Sessions.ByStatus[st] != n {
			t.Errorf("sessions %s: %d, want %d (all: %v)", st, got.Sessions.ByStatus[st], n, got.Sessions.ByStatus)
		}
	}
	if got.Sessions.Total != 3 || got.Sessions.OldestID != oldest.ID || !got.Sessions.OldestAt.Equal(oldest.CreatedAt) {
		t.Errorf("sessions: total %d, oldest %s at %s; want 3, %s at %s", got.Sessions.Total,
			got.Sessions.OldestID, got.Sessions.OldestAt, oldest.ID, oldest.CreatedAt)
	}
	if got.Requests.Total != 0 || got.Requests.ByStatus["pending"] != 0 || len(got.Requests.ByStatus) != 5 {
		t.Errorf("requests: %+v, want every status at zero", got.Requests)
	}

	code, stdout, stderr = e.run("store", "stats")
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	for _, part := range []string{"sessions", "active 1, revoked 1, expired 1", oldest.ID[:shortIDLen] + " (3d ago)", "cancelled 0"} {
		if !strings.Contains(stdout, part) {
			t.Errorf("table lacks %q:\n%s", part, stdout)
		}
	}
}
