package gateway_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

const capped10m = `version: "1"
rules:
  - name: short
    effect: allow
    max_server_duration: 10m
`

const gatedByApproval = `version: "1"
rules:
  - name: gated
    effect: require_approval
`

func withDuration(d time.Duration) rigOption {
	return func(c *gateway.Config, _ *gateway.Deps) { c.Duration = d }
}

// A credential fetched under a loose cap is not served under a tighter one:
// the source is asked again, for the tighter duration.
func TestCachedCredentialIsNotServedUnderATighterCap(t *testing.T) {
	r := newRig(t, allowAll, withDuration(time.Hour))
	if _, err := r.gw.Issue(context.Background(), "r1"); err != nil {
		t.Fatal(err)
	}
	r.policy.set(t, capped10m)
	creds, err := r.gw.Issue(context.Background(), "r2")
	if err != nil {
		t.Fatal(err)
	}
	reqs := r.source.requests()
	if len(reqs) != 2 || reqs[0].Duration != time.Hour || reqs[1].Duration != 10*time.Minute {
		t.Fatalf("source asked for %v, want 1h then a fresh 10m fetch", durations(reqs))
	}
	if want := r.clock.Now().Add(10 * time.Minute); !creds.Expires.Equal(want) {
		t.Errorf("Expires = %v, want %v", creds.Expires, want)
	}
}

// An approval ending in 2 minutes: the hour-long credential cached before is
// not served; STS is asked for the window (raised to its 900 s floor by the
// source) and the client is told 2 minutes.
func TestApprovalWindowCapsWhatIsAskedAndServed(t *testing.T) {
	r := newRig(t, allowAll, withDuration(time.Hour), func(_ *gateway.Config, d *gateway.Deps) {
		d.Approvals = grant{"ap1", t0.Add(2 * time.Minute)}
	})
	if _, err := r.gw.Issue(context.Background(), "r1"); err != nil {
		t.Fatal(err)
	}
	r.policy.set(t, gatedByApproval)
	creds, err := r.gw.Issue(context.Background(), "r2")
	if err != nil {
		t.Fatal(err)
	}
	reqs := r.source.requests()
	if len(reqs) != 2 || reqs[1].Duration != 2*time.Minute {
		t.Fatalf("source asked for %v, want 1h then 2m", durations(reqs))
	}
	if want := t0.Add(2 * time.Minute); !creds.Expires.Equal(want) {
		t.Errorf("Expires = %v, want the approval's end %v", creds.Expires, want)
	}
	if rec := r.log.last(t); rec.ServedDuration != "2m0s" || rec.Override != "approval:ap1" {
		t.Errorf("decision record = %+v", rec)
	}
	// Within the floor: the 900 s credential fits a 2m cap (STS can issue no
	// shorter), so the next request reuses it.
	if _, err := r.gw.Issue(context.Background(), "r3"); err != nil {
		t.Fatal(err)
	}
	if n := r.source.calls.Load(); n != 2 {
		t.Errorf("source called %d times, want the 900 s credential reused", n)
	}
}

func TestUsableBounds(t *testing.T) {
	tests := []struct {
		name  string
		left  time.Duration
		cap   time.Duration
		pass  bool
		reuse bool
	}{
		{"fits the cap", 14 * time.Minute, 15 * time.Minute, false, true},
		{"within the clock-skew minute", 16 * time.Minute, 15 * time.Minute, false, true},
		{"longer than the cap", 17 * time.Minute, 15 * time.Minute, false, false},
		{"under the floor for a short cap", 15 * time.Minute, 2 * time.Minute, false, true},
		{"over the floor for a short cap", 17 * time.Minute, 2 * time.Minute, false, false},
		{"too little left", 4 * time.Minute, 15 * time.Minute, false, false},
		{"pass-through outlives the cap", 10 * time.Hour, 15 * time.Minute, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, allowAll, withDuration(tt.cap))
			r.source.ttl, r.source.passThrough = tt.left, tt.pass
			for i := range 2 {
				if _, err := r.gw.Issue(context.Background(), "r"); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			if got, want := r.source.calls.Load(), map[bool]int64{true: 1, false: 2}[tt.reuse]; got != want {
				t.Errorf("source called %d times for two requests, want %d", got, want)
			}
		})
	}
}

// Startup asks for what policy allows, not --server-duration.
func TestPrefetchAsksForTheRuleCap(t *testing.T) {
	r := newRig(t, `version: "1"
rules:
  - name: hour
    effect: allow
    max_server_duration: 1h
`, withDuration(12*time.Hour))
	if err := r.gw.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := r.source.requests()
	if len(reqs) != 1 || reqs[0].Duration != time.Hour {
		t.Fatalf("startup fetch asked for %v, want 1h (the rule's cap, not the configured 12h)", durations(reqs))
	}
	// The first request reuses it.
	if _, err := r.gw.Issue(context.Background(), "r1"); err != nil || r.source.calls.Load() != 1 {
		t.Fatalf("first request: err %v, source calls %d; want the startup credential reused", err, r.source.calls.Load())
	}
}

func TestPrefetchRefusesWhatPolicyRefuses(t *testing.T) {
	r := newRig(t, `version: "1"
rules:
  - name: closed
    effect: deny
`)
	var denied *gateway.DeniedError
	if err := r.gw.Prefetch(context.Background()); !errors.As(err, &denied) || r.source.calls.Load() != 0 {
		t.Fatalf("Prefetch under a deny: %v, %d source calls; want a denial and no call", err, r.source.calls.Load())
	}
}

func TestLongLivedPassThrough(t *testing.T) {
	const capped = `version: "1"
rules:
  - name: capped
    effect: allow
    max_server_duration: 30m
`
	const optIn = `version: "1"
rules:
  - name: capped
    effect: allow
    max_server_duration: 30m
    allow_long_lived_passthrough: true
`
	const noCap = `version: "1"
rules:
  - name: open
    effect: allow
`
	tests := []struct {
		name    string
		doc     string
		ttl     time.Duration // 0: static keys, no expiry
		mode    policy.Mode
		refused bool
	}{
		{"static keys under a cap", capped, 0, policy.ModeServer, true},
		{"SSO credentials with 2h left under a 30m cap", capped, 2 * time.Hour, policy.ModeServer, true},
		{"SSO credentials with 20m left", capped, 20 * time.Minute, policy.ModeServer, false},
		{"static keys, rule opts in", optIn, 0, policy.ModeServer, false},
		{"static keys, rule sets no cap", noCap, 0, policy.ModeServer, false},
		{"static keys in cli mode", capped, 0, policy.ModeCLI, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.doc, func(c *gateway.Config, _ *gateway.Deps) { c.Mode = tt.mode })
			r.source.passThrough, r.source.ttl = true, tt.ttl
			creds, err := r.gw.Issue(context.Background(), "r1")
			if !tt.refused {
				if err != nil {
					t.Fatal(err)
				}
				if want := r.clock.Now().Add(15 * time.Minute); creds.Expires.After(want) {
					t.Errorf("Expires = %v, want no later than the cap %v", creds.Expires, want)
				}
				if rec := r.log.last(t); rec.SourceIdentity != "" {
					t.Errorf("decision log names source identity %q; STS never received one", rec.SourceIdentity)
				}
				return
			}
			var denied *gateway.DeniedError
			if !errors.As(err, &denied) || denied.Rule != "capped" {
				t.Fatalf("err = %v, want a denial by rule capped", err)
			}
			for _, want := range []string{"passed through unchanged", "30m0s", "allow_long_lived_passthrough: true", "--no-session"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not say %q", err.Error(), want)
				}
			}
			if rec := r.log.last(t); rec.Effect != "deny" || rec.Error == "" {
				t.Errorf("decision record = %+v, want a logged deny", rec)
			}
			// Startup refuses it too, before the child runs.
			if err := r.gw.Prefetch(context.Background()); !errors.As(err, &denied) {
				t.Errorf("Prefetch = %v, want the same denial", err)
			}
		})
	}
}

var handlePattern = regexp.MustCompile(`^sentinel\.alice\.([0-9a-f]{32})$`)

// Every fill of one session names the session in SourceIdentity and
// RoleSessionName; the record keeps what AWS knows the session by.
func TestOneHandlePerSession(t *testing.T) {
	r := newRig(t, allowAll)
	for i := range 3 {
		if _, err := r.gw.Issue(context.Background(), "req"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(11 * time.Minute) // past the floor: the next request fetches again
	}
	reqs := r.source.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d fills, want 3", len(reqs))
	}
	want := "sentinel.alice." + r.sid
	for i, q := range reqs {
		if q.SourceIdentity != want || q.RoleSessionName != want {
			t.Errorf("fill %d: SourceIdentity %q RoleSessionName %q, want both %q", i, q.SourceIdentity, q.RoleSessionName, want)
		}
	}
	if rec := r.log.last(t); rec.SourceIdentity != want {
		t.Errorf("decision log source_identity %q, want %q", rec.SourceIdentity, want)
	}
	s, err := r.store.GetSession(context.Background(), r.sid)
	if err != nil {
		t.Fatal(err)
	}
	if s.SourceIdentity != want || !slices.Equal(s.RoleARNs, []string{testRoleARN}) ||
		!slices.Equal(s.AssumedRoleIDs, []string{"AROAEXAMPLEROLEID0001:" + want}) {
		t.Errorf("session record: source identity %q, roles %v, assumed role ids %v", s.SourceIdentity, s.RoleARNs, s.AssumedRoleIDs)
	}
}

// Without tracking there is no session id; the gateway's fills still share one handle.
func TestUntrackedGatewayKeepsOneHandle(t *testing.T) {
	r := newRig(t, allowAll, func(c *gateway.Config, d *gateway.Deps) {
		c.SessionID = ""
		d.Tracker, d.Sessions = nil, nil
	})
	for range 2 {
		if _, err := r.gw.Issue(context.Background(), "r"); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(11 * time.Minute)
	}
	reqs := r.source.requests()
	if len(reqs) != 2 || reqs[0].SourceIdentity != reqs[1].SourceIdentity || !handlePattern.MatchString(reqs[0].SourceIdentity) ||
		reqs[0].RoleSessionName != reqs[0].SourceIdentity {
		t.Fatalf("fills %+v: want one sentinel.alice.<32 hex> handle for both", reqs)
	}
}

// A pass-through fill records no SourceIdentity anywhere.
func TestPassThroughRecordsNoSourceIdentity(t *testing.T) {
	r := newRig(t, allowAll)
	r.source.passThrough = true
	if _, err := r.gw.Issue(context.Background(), "r"); err != nil {
		t.Fatal(err)
	}
	if rec := r.log.last(t); rec.SourceIdentity != "" {
		t.Errorf("decision log source_identity %q, want none", rec.SourceIdentity)
	}
	s, err := r.store.GetSession(context.Background(), r.sid)
	if err != nil || s.SourceIdentity != "" || len(s.RoleARNs) != 0 {
		t.Errorf("session record %+v, %v; want no AWS handles", s, err)
	}
}

func TestSessionStoreRuleRefusesOtherStores(t *testing.T) {
	const doc = `version: "1"
rules:
  - name: central
    effect: require_server_session
    session_store: dynamodb://sentinel-sessions?region=eu-west-1
`
	r := newRig(t, doc, func(c *gateway.Config, _ *gateway.Deps) { c.SessionStore = "bolt:///tmp/throwaway.db" })
	_, err := r.gw.Issue(context.Background(), "r")
	var denied *gateway.DeniedError
	if !errors.As(err, &denied) || denied.RequiresSessionStore != "dynamodb://sentinel-sessions?region=eu-west-1" {
		t.Fatalf("err = %v, want a denial requiring the named store", err)
	}
	for _, want := range []string{"dynamodb://sentinel-sessions?region=eu-west-1", "bolt:///tmp/throwaway.db", "--store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %q", err.Error(), want)
		}
	}
	if r.source.calls.Load() != 0 {
		t.Error("the source was called for a refused request")
	}
	ok := newRig(t, doc, func(c *gateway.Config, _ *gateway.Deps) {
		c.SessionStore = "dynamodb://sentinel-sessions?region=eu-west-1"
	})
	if _, err := ok.gw.Issue(context.Background(), "r"); err != nil {
		t.Fatalf("tracked in the named store: %v", err)
	}
}

func durations(reqs []ports.CredentialRequest) []time.Duration {
	out := make([]time.Duration, len(reqs))
	for i, q := range reqs {
		out[i] = q.Duration
	}
	return out
}
