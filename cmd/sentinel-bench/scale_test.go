package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/adapters/bolt"
	"github.com/sentinel-gw/sentinel/ports"
)

// The scale mode on bbolt at two small sizes (each status past a page): every listing and the
// by-user revoke read as many records at both (ended records cost
// nothing), while the old by-user listing reads the user's whole history.
func TestScaleModeReadsStayFlat(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"-mode", "scale", "-sizes", "1000,3000", "-active", "10", "-user-active", "40", "-repeat", "1"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runScale(t.Context(), o, &out); err != nil {
		t.Fatalf("runScale: %v\n%s", err, out.String())
	}
	cols := regexp.MustCompile(`\s{2,}`)
	reads := map[string][]string{} // operation -> reads column, one per size
	for line := range strings.SplitSeq(out.String(), "\n") {
		f := cols.Split(strings.TrimSpace(line), -1)
		if len(f) == 7 && f[1] != "records" {
			reads[f[0]] = append(reads[f[0]], f[5])
		}
	}
	for _, op := range []string{"server-sessions --status all (page 1)", "server-sessions --status active", "server-revoke --user (40 active)"} {
		if r := reads[op]; len(r) != 2 || r[0] != r[1] {
			t.Errorf("%s: reads %v at 1000 and 3000 records, want the same\n%s", op, r, out.String())
		}
	}
	if r := reads["the old revoke listing: the user's history"]; len(r) != 2 || r[0] == r[1] {
		t.Errorf("the old by-user listing: reads %v, want them to grow with the history\n%s", r, out.String())
	}
	if r := reads["store stats"]; len(r) != 2 {
		t.Errorf("store stats: reads %v, want a row per size", r)
	}
}

// The seed mode writes live sessions into the store it names and keeps
// them, for a load test against that many active sessions.
func TestSeedModeKeepsSessions(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "seed.db")
	o, err := parseFlags([]string{"-mode", "seed", "-store", "bolt://" + path, "-active", "12", "-ended", "30", "-user", "loadtest"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runSeed(t.Context(), o, &out); err != nil {
		t.Fatalf("runSeed: %v", err)
	}
	store, err := bolt.Open(path, ports.SystemClock{}, bolt.Options{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Sessions.ByStatus["active"] != 12 || st.Sessions.Total != 42 {
		t.Errorf("the store holds %v, want 12 active of 42", st.Sessions.ByStatus)
	}
	live, err := store.ListActiveSessionsByUser(t.Context(), "loadtest", ports.Page{Limit: 100})
	if err != nil || len(live.Sessions) != 12 {
		t.Errorf("loadtest's active sessions: %d (%v), want 12", len(live.Sessions), err)
	}
	if _, err := parseFlags([]string{"-mode", "seed"}, &bytes.Buffer{}); err != nil {
		t.Fatalf("parse: %v", err)
	}
	o.store = ""
	if err := runSeed(t.Context(), o, &out); err == nil || !strings.Contains(err.Error(), "-store") {
		t.Errorf("seed without -store: %v, want an error naming -store", err)
	}
}
