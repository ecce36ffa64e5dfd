package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/bolt"
	"github.com/sentinel-gw/sentinel/ports"
)

// store sweep deletes what ended before the retention, archives it first,
// and keeps the rest.
func TestStoreSweep(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	store, err := bolt.Open(e.defaultStore(), ports.SystemClock{}, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	revokedAt := func(i int, at time.Time) ports.Session {
		return ports.Session{ID: fmt.Sprintf("%032x", i), User: "alice", Profile: "prod", ServerInstanceID: "i",
			Status: ports.SessionRevoked, CreatedAt: at.Add(-time.Hour), StartedAt: at.Add(-time.Hour), UpdatedAt: at,
			ExpiresAt: at, RevokedAt: at, RevokedBy: "secops", RevokedReason: "left the company"}
	}
	old, recent := revokedAt(1, now.Add(-10*24*time.Hour)), revokedAt(2, now.Add(-time.Hour))
	for _, s := range []ports.Session{old, recent} {
		if _, err := store.CreateSession(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	archive := filepath.Join(e.dir, "retired.jsonl")
	policyDir := filepath.Join(e.vars["XDG_CONFIG_HOME"], "sentinel")
	if err := os.MkdirAll(policyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeTemp(t, policyDir, "policy.yaml", allowAllPolicy)

	code, stdout, stderr := e.run("store", "sweep", "--retention", "168h", "--archive", archive, "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	var got ports.RetiredCounts
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got != (ports.RetiredCounts{Sessions: 1}) {
		t.Fatalf("printed %s (%v), want one session deleted", stdout, err)
	}
	raw, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var line struct {
		DeletedAt time.Time      `json:"deleted_at"`
		Session   *ports.Session `json:"session"`
	}
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &line) != nil || line.Session == nil ||
		line.Session.ID != old.ID || line.Session.RevokedBy != "secops" || line.DeletedAt.IsZero() {
		t.Fatalf("archive holds %q, want the one deleted session, whole", raw)
	}
	if _, err := store.GetSession(t.Context(), old.ID); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("the old session is still there: %v", err)
	}
	if _, err := store.GetSession(t.Context(), recent.ID); err != nil {
		t.Errorf("the recent session is gone: %v", err)
	}

	if code, _, stderr := e.run("store", "sweep", "--retention", "1m"); code != exitUsage || !strings.Contains(stderr, "--retention") {
		t.Errorf("--retention 1m: exit %d, want %d naming --retention; stderr:\n%s", code, exitUsage, stderr)
	}

	// With no --archive, the records go to retired.jsonl beside the
	// decision log.
	if _, err := store.CreateSession(t.Context(), revokedAt(3, now.Add(-9*24*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := e.run("store", "sweep"); code != exitOK {
		t.Fatalf("store sweep: exit %d; stderr:\n%s", code, stderr)
	}
	raw, err = os.ReadFile(filepath.Join(e.vars["XDG_STATE_HOME"], "sentinel", "retired.jsonl"))
	if err != nil || !strings.Contains(string(raw), fmt.Sprintf("%032x", 3)) {
		t.Errorf("the default archive holds %q (%v), want the deleted session", raw, err)
	}
}

// A break-glass event stays while a rule's window still counts it, however
// short --retention is; once past the window it goes.
func TestStoreSweepKeepsBreakGlassTheRulesCount(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	store, err := bolt.Open(e.defaultStore(), ports.SystemClock{}, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ended := time.Now().UTC().Add(-10 * 24 * time.Hour)
	event := ports.BreakGlassEvent{ID: fmt.Sprintf("%032x", 7), Invoker: "bob", Profile: "prod", ReasonCode: "incident",
		Justification: "db down", Duration: time.Hour, Status: ports.BreakGlassClosed, ClosedBy: "bob", ClosedReason: "fixed",
		CreatedAt: ended.Add(-time.Hour), UpdatedAt: ended, ExpiresAt: ended}
	if _, err := store.CreateBreakGlass(t.Context(), event); err != nil {
		t.Fatal(err)
	}
	policyDir := filepath.Join(e.vars["XDG_CONFIG_HOME"], "sentinel")
	if err := os.MkdirAll(policyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		window string
		want   ports.RetiredCounts
	}{
		{"720h", ports.RetiredCounts{}},             // counted for 30 days: kept
		{"48h", ports.RetiredCounts{BreakGlass: 1}}, // past the window and the retention: deleted
	} {
		writeTemp(t, policyDir, "policy.yaml", allowAllPolicy+
			"breakglass:\n  - name: b\n    users: [bob]\n    max_per_user: 2\n    window: "+tc.window+"\n")
		code, stdout, stderr := e.run("store", "sweep", "--retention", "24h", "--no-archive", "-o", "json")
		if code != exitOK {
			t.Fatalf("window %s: exit %d; stderr:\n%s", tc.window, code, stderr)
		}
		var got ports.RetiredCounts
		if err := json.Unmarshal([]byte(stdout), &got); err != nil || got != tc.want {
			t.Errorf("window %s: printed %s (%v), want %+v", tc.window, stdout, err, tc.want)
		}
	}
}
