package conformance

import (
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// TestGate pins the feature rule: a missing feature skips locally, fails
// under CI, and skips even under CI only when the backend says why.
func TestGate(t *testing.T) {
	cases := []struct {
		name               string
		have               bool
		waived             string
		ci                 bool
		wantSkip, wantFail string // substrings; empty means none
	}{
		{"supported, local", true, "", false, "", ""},
		{"supported, CI", true, "", true, "", ""},
		{"supported, waiver ignored", true, "in-process only", true, "", ""},
		{"missing, local", false, "", false, "does not declare feature SharedHandles", ""},
		{"missing, CI", false, "", true, "", "lacks feature SharedHandles and CI is set"},
		{"missing, waived, local", false, "in-process only", false, "lacks SharedHandles: in-process only", ""},
		{"missing, waived, CI", false, "in-process only", true, "lacks SharedHandles: in-process only", ""},
	}
	for _, tc := range cases {
		skip, fail := gate("SharedHandles", tc.have, tc.waived, tc.ci)
		if !matches(skip, tc.wantSkip) || !matches(fail, tc.wantFail) {
			t.Errorf("%s: gate = skip %q, fail %q; want skip containing %q, fail containing %q", tc.name, skip, fail, tc.wantSkip, tc.wantFail)
		}
	}
}

// TestWaiverIsPerFeature pins that a feature's own waiver wins, the
// backend-wide one covers the rest, and a feature without either has none.
func TestWaiverIsPerFeature(t *testing.T) {
	f := Features{Waivers: map[string]string{"FeedGaps": "no feed to lose"}}
	if got := f.waiver("FeedGaps"); got != "no feed to lose" {
		t.Errorf("waiver(FeedGaps) = %q", got)
	}
	if got := f.waiver("Feed"); got != "" {
		t.Errorf("waiver(Feed) without a waiver = %q, want none", got)
	}
	f.Waived = "in-process only"
	if got := f.waiver("Feed"); got != "in-process only" {
		t.Errorf("waiver(Feed) under Waived = %q", got)
	}
	if got := f.waiver("FeedGaps"); got != "no feed to lose" {
		t.Errorf("waiver(FeedGaps) under Waived = %q, want its own", got)
	}
}

// TestStoreGate pins that a missing store skips locally and fails under CI,
// with no waiver.
func TestStoreGate(t *testing.T) {
	cases := []struct {
		name               string
		have, ci           bool
		wantSkip, wantFail string
	}{
		{"present, local", true, false, "", ""},
		{"present, CI", true, true, "", ""},
		{"missing, local", false, false, "Backend.Approvals is nil", ""},
		{"missing, CI", false, true, "", "Backend.Approvals is nil and CI is set"},
	}
	for _, tc := range cases {
		skip, fail := storeGate("Approvals", tc.have, tc.ci)
		if !matches(skip, tc.wantSkip) || !matches(fail, tc.wantFail) {
			t.Errorf("%s: storeGate = skip %q, fail %q; want skip containing %q, fail containing %q", tc.name, skip, fail, tc.wantSkip, tc.wantFail)
		}
	}
}

// matches: want empty requires got empty; otherwise got contains want.
func matches(got, want string) bool {
	if want == "" {
		return got == ""
	}
	return strings.Contains(got, want)
}

// TestDiffSessions pins how the suite compares records: to the
// microsecond, truncated, in UTC, with zero times kept zero.
func TestDiffSessions(t *testing.T) {
	at := time.Date(2031, time.March, 14, 9, 26, 53, 589_793_000, time.UTC)
	want := ports.Session{ID: newSessionID(), Status: ports.SessionActive, StartedAt: at.Add(999 * time.Nanosecond), Version: 1}
	cases := []struct {
		name     string
		mutate   func(*ports.Session)
		wantDiff string // substring of the one diff; empty means equal
	}{
		{"identical", func(*ports.Session) {}, ""},
		{"sub-microsecond digits dropped", func(s *ports.Session) { s.StartedAt = at }, ""},
		{"rounded up a microsecond", func(s *ports.Session) { s.StartedAt = at.Add(time.Microsecond) }, "StartedAt"},
		{"same instant, not UTC", func(s *ports.Session) { s.StartedAt = s.StartedAt.In(time.FixedZone("X", 3600)) }, "location"},
		{"zero time came back as the epoch", func(s *ports.Session) { s.RevokedAt = time.Unix(0, 0).UTC() }, "RevokedAt"},
		{"version", func(s *ports.Session) { s.Version = 2 }, "Version"},
		{"status", func(s *ports.Session) { s.Status = ports.SessionExpired }, "Status"},
	}
	for _, tc := range cases {
		got := want
		tc.mutate(&got)
		diffs := diffSessions(want, got)
		switch {
		case tc.wantDiff == "" && len(diffs) != 0:
			t.Errorf("%s: diffs %v, want none", tc.name, diffs)
		case tc.wantDiff != "" && (len(diffs) != 1 || !strings.Contains(diffs[0], tc.wantDiff)):
			t.Errorf("%s: diffs %v, want one mentioning %q", tc.name, diffs, tc.wantDiff)
		}
	}
}

func TestNewIDs(t *testing.T) {
	id := newSessionID()
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("newSessionID() = %q, want 32 lowercase hex characters", id)
	}
	if a, b := newNamespace(), newNamespace(); newSessionID() == id || a == b {
		t.Error("two fresh ids are equal")
	}
}
