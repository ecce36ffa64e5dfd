package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// A session never revoked has no revoked_at in JSON (not year 1); a revoked
// one has it in both JSON and CSV.
func TestSessionOutputRevokedAt(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)
	sessions := []ports.Session{
		{ID: "a", User: "alice", Profile: "prod", Status: ports.SessionActive, StartedAt: at, CreatedAt: at, UpdatedAt: at},
		{ID: "r", User: "bob", Profile: "prod", Status: ports.SessionRevoked, StartedAt: at, CreatedAt: at, UpdatedAt: at,
			RevokedBy: "sec", RevokedReason: "stolen laptop", RevokedAt: at.Add(time.Minute)},
	}

	var js bytes.Buffer
	if err := writeJSON(&js, sessions); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatalf("json output: %v\n%s", err, js.String())
	}
	if v, ok := got[0]["revoked_at"]; ok {
		t.Errorf("never-revoked session shows revoked_at %v", v)
	}
	if v := got[1]["revoked_at"]; v != "2026-12-06T09:31:00Z" {
		t.Errorf("revoked session: revoked_at = %v, want 2026-12-06T09:31:00Z", v)
	}

	var cs bytes.Buffer
	if err := writeSessionCSV(&cs, sessions); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cs).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(rows[0], "revoked_at")
	if col < 0 {
		t.Fatalf("csv header %q has no revoked_at", rows[0])
	}
	if rows[1][col] != "" || rows[2][col] != "2026-12-06T09:31:00Z" {
		t.Errorf("csv revoked_at = %q and %q, want empty and 2026-12-06T09:31:00Z", rows[1][col], rows[2][col])
	}
}
