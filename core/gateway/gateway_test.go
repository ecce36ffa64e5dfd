package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

const allowAll = `version: "1"
rules:
  - name: everyone
    effect: allow
    reason: open
`

// staticPolicy is a PolicySource whose policy tests can swap or break.
type staticPolicy struct {
	mu  sync.Mutex
	p   *policy.Policy
	err error
}

func (s *staticPolicy) Current() (*policy.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p, s.err
}

func (s *staticPolicy) set(t *testing.T, doc string) {
	t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("test policy: %v", err)
	}
	s.mu.Lock()
	s.p, s.err = p, nil
	s.mu.Unlock()
}

// countingSource stands in for a credential source. By default it acts like
// STS AssumeRole: numbered keys valid for the requested duration (at least
// 900 s), with the role's handles in Origin. ttl > 0 fixes the lifetime
// instead; passThrough hands the keys on as a pass-through source would
// (with ttl 0: no expiry at all).
type countingSource struct {
	clock       ports.Clock
	ttl         time.Duration
	passThrough bool
	calls       atomic.Int64
	fail        atomic.Bool
	last        atomic.Value // ports.CredentialRequest

	mu   sync.Mutex
	reqs []ports.CredentialRequest
}

const testRoleARN = "arn:aws:iam::111122223333:role/Deploy"

// requests returns every request the source received, in order.
func (c *countingSource) requests() []ports.CredentialRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ports.CredentialRequest(nil), c.reqs...)
}

func (c *countingSource) Credentials(_ context.Context, req ports.CredentialRequest) (ports.Credentials, error) {
	n := c.calls.Add(1)
	c.last.Store(req)
	c.mu.Lock()
	c.reqs = append(c.reqs, req)
	c.mu.Unlock()
	if c.fail.Load() {
		return ports.Credentials{}, errors.New("sts unreachable")
	}
	creds := ports.Credentials{
		AccessKeyID:     "ASIA" + strings.Repeat("X", 11) + string(rune('A'+n%26)),
		SecretAccessKey: "secret",
		SessionToken:    "token",
	}
	switch {
	case c.passThrough:
		creds.Origin.PassThrough = true
		if c.ttl > 0 {
			creds.Expires = c.clock.Now().Add(c.ttl)
		}
		return creds, nil
	case c.ttl > 0:
		creds.Expires = c.clock.Now().Add(c.ttl)
	default:
		creds.Expires = c.clock.Now().Add(gateway.STSDuration(req.Duration))
	}
	creds.Origin = ports.CredentialOrigin{RoleARN: testRoleARN, AssumedRoleID: "AROAEXAMPLEROLEID0001:" + req.RoleSessionName, SourceIdentity: req.SourceIdentity}
	return creds, nil
}

type memoryLog struct {
	mu   sync.Mutex
	recs []ports.DecisionRecord
}

func (m *memoryLog) Record(_ context.Context, r ports.DecisionRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, r)
	return nil
}

func (m *memoryLog) last(t *testing.T) ports.DecisionRecord {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.recs) == 0 {
		t.Fatal("no decision-log line written")
	}
	return m.recs[len(m.recs)-1]
}

func (m *memoryLog) all() []ports.DecisionRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]ports.DecisionRecord(nil), m.recs...)
}

type grant struct {
	id      string
	expires time.Time
}

func (g grant) ActiveApproval(_ context.Context, _ ports.Identity, _ string, _ time.Time) (ports.ApprovalGrant, error) {
	if g.id == "" {
		return ports.ApprovalGrant{}, ports.ErrNotFound
	}
	return ports.ApprovalGrant{ID: g.id, ExpiresAt: g.expires}, nil
}

func (g grant) ActiveBreakGlass(_ context.Context, _ ports.Identity, _ string, _ time.Time) (ports.BreakGlassGrant, error) {
	if g.id == "" {
		return ports.BreakGlassGrant{}, ports.ErrNotFound
	}
	return ports.BreakGlassGrant{ID: g.id, ExpiresAt: g.expires}, nil
}

type rig struct {
	clock   *ports.FakeClock
	policy  *staticPolicy
	source  *countingSource
	log     *memoryLog
	store   *memory.Store
	tracker *session.Tracker
	gw      *gateway.Gateway
	sid     string
}

type rigOption func(*gateway.Config, *gateway.Deps)

func newRig(t *testing.T, doc string, opts ...rigOption) *rig {
	t.Helper()
	clock := ports.NewFakeClock(t0)
	r := &rig{clock: clock, policy: &staticPolicy{}, source: &countingSource{clock: clock}, log: &memoryLog{}, store: memory.New(clock)}
	r.policy.set(t, doc)
	sid, _ := record.NewID()
	r.sid = sid
	r.tracker = session.NewTracker(r.store, clock, session.TrackerConfig{HeartbeatInterval: time.Hour, Lease: 3 * time.Hour, TouchFlushInterval: time.Hour}, nil)
	if _, err := r.tracker.Start(context.Background(), ports.Session{ID: sid, User: "alice", Profile: "prod", Status: ports.SessionActive, StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.tracker.Stop(context.Background()) })
	cfg := gateway.Config{Profile: "prod", Identity: ports.Identity{Name: "alice", Source: "os"}, SessionID: sid, Duration: 15 * time.Minute}
	deps := gateway.Deps{Policy: r.policy, Source: r.source, Log: r.log, Clock: clock, Sessions: r.store, Tracker: r.tracker}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	r.gw = gateway.New(cfg, deps)
	return r
}

func (r *rig) revoke(t *testing.T) {
	t.Helper()
	_, err := session.UpdateWithRetry(context.Background(), r.store, r.sid, func(s ports.Session) (ports.Session, error) {
		return session.Revoke(s, "secops", "laptop stolen", r.clock.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAllowServesCappedCredentialsAndLogs(t *testing.T) {
	r := newRig(t, allowAll)
	creds, err := r.gw.Issue(context.Background(), "req1")
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(15 * time.Minute); !creds.Expires.Equal(want) {
		t.Errorf("Expires = %v, want the 15m cap %v", creds.Expires, want)
	}
	rec := r.log.last(t)
	if rec.Effect != "allow" || rec.Rule != "everyone" || rec.RuleIndex != 0 || rec.RequestID != "req1" || rec.SessionID != r.sid || rec.ServedDuration != "15m0s" {
		t.Errorf("decision record = %+v", rec)
	}
	if !strings.HasPrefix(rec.SourceIdentity, "sentinel.alice.") {
		t.Errorf("source identity %q does not trace back to the caller", rec.SourceIdentity)
	}
	req := r.source.last.Load().(ports.CredentialRequest)
	if req.Duration != 15*time.Minute || req.SourceIdentity != rec.SourceIdentity {
		t.Errorf("source asked for %+v", req)
	}
}

func TestRuleMaxDurationCaps(t *testing.T) {
	r := newRig(t, `version: "1"
rules:
  - name: short
    effect: allow
    max_server_duration: 5m
`)
	creds, err := r.gw.Issue(context.Background(), "r")
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(5 * time.Minute); !creds.Expires.Equal(want) {
		t.Errorf("Expires = %v, want %v", creds.Expires, want)
	}
}

func TestDenyNeverCallsTheSource(t *testing.T) {
	r := newRig(t, `version: "1"
rules:
  - name: no-prod
    effect: deny
    reason: prod is frozen
    conditions:
      profiles: [prod]
`)
	_, err := r.gw.Issue(context.Background(), "r")
	var denied *gateway.DeniedError
	if !errors.As(err, &denied) || denied.Rule != "no-prod" || denied.Reason != "prod is frozen" {
		t.Fatalf("err = %v, want a denial by no-prod", err)
	}
	if err.Error() != "policy denied: rule no-prod: prod is frozen" {
		t.Errorf("message = %q", err.Error())
	}
	if r.source.calls.Load() != 0 {
		t.Error("the credential source was called for a denied request")
	}
	if rec := r.log.last(t); rec.Effect != "deny" || rec.Rule != "no-prod" {
		t.Errorf("decision record = %+v", rec)
	}
}

func TestPolicyErrorFailsClosed(t *testing.T) {
	r := newRig(t, allowAll)
	r.policy.mu.Lock()
	r.policy.err = errors.New("line 3: bad effect")
	r.policy.mu.Unlock()
	_, err := r.gw.Issue(context.Background(), "r")
	var denied *gateway.DeniedError
	if !errors.As(err, &denied) || !strings.Contains(err.Error(), "could not be loaded") {
		t.Fatalf("err = %v, want a fail-closed denial", err)
	}
	if rec := r.log.last(t); rec.Outcome != gateway.OutcomeError || rec.PolicyVersion != "" {
		t.Errorf("decision record = %+v, want outcome error and no policy version", rec)
	}
}

func TestPolicyChangeTakesEffectOnNextRequest(t *testing.T) {
	r := newRig(t, allowAll)
	if _, err := r.gw.Issue(context.Background(), "r1"); err != nil {
		t.Fatal(err)
	}
	const closed = `version: "1"
rules:
  - name: closed
    effect: deny
`
	r.policy.set(t, closed)
	if _, err := r.gw.Issue(context.Background(), "r2"); err == nil {
		t.Fatal("served after the policy changed to deny")
	}
	// Each decision names the version of the policy that made it.
	recs := r.log.all()
	if len(recs) != 2 {
		t.Fatalf("%d decision records, want 2", len(recs))
	}
	if got, want := recs[0].PolicyVersion, policy.HashOf([]byte(allowAll)); got != want {
		t.Errorf("allow recorded policy_version %q, want %q", got, want)
	}
	if got, want := recs[1].PolicyVersion, policy.HashOf([]byte(closed)); got != want {
		t.Errorf("deny recorded policy_version %q, want %q", got, want)
	}
	if recs[0].Outcome != gateway.OutcomeAllow || recs[1].Outcome != gateway.OutcomeDeny {
		t.Errorf("outcomes %q, %q; want allow, deny", recs[0].Outcome, recs[1].Outcome)
	}
}

func TestOverrides(t *testing.T) {
	const requireApproval = `version: "1"
rules:
  - name: gated
    effect: require_approval
    reason: needs a second person
`
	const requireServer = `version: "1"
rules:
  - name: server-only
    effect: require_server
`
	tests := []struct {
		name       string
		doc        string
		mode       policy.Mode
		approval   grant
		breakGlass grant
		wantErr    bool
		wantLabel  string
		wantCap    time.Duration
	}{
		{"require_approval without grants", requireApproval, policy.ModeServer, grant{}, grant{}, true, "", 0},
		{"approval lifts require_approval", requireApproval, policy.ModeServer, grant{"ap1", t0.Add(time.Hour)}, grant{}, false, "approval:ap1", 15 * time.Minute},
		{"break-glass lifts and caps", requireApproval, policy.ModeServer, grant{}, grant{"bg1", t0.Add(10 * time.Minute)}, false, "breakglass:bg1", 10 * time.Minute},
		{"break-glass never lifts require_server", requireServer, policy.ModeCLI, grant{}, grant{"bg1", t0.Add(time.Hour)}, true, "", 0},
		{"approval never lifts require_server", requireServer, policy.ModeCLI, grant{"ap1", t0.Add(time.Hour)}, grant{}, true, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.doc, func(c *gateway.Config, d *gateway.Deps) {
				c.Mode = tc.mode
				d.Approvals, d.BreakGlass = tc.approval, tc.breakGlass
			})
			creds, err := r.gw.Issue(context.Background(), "r")
			if tc.wantErr {
				var denied *gateway.DeniedError
				if !errors.As(err, &denied) {
					t.Fatalf("err = %v, want a denial", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.log.last(t).Override; got != tc.wantLabel {
				t.Errorf("override = %q, want %q", got, tc.wantLabel)
			}
			if want := t0.Add(tc.wantCap); !creds.Expires.Equal(want) {
				t.Errorf("Expires = %v, want %v", creds.Expires, want)
			}
		})
	}
}

func TestRevokedIsRefusedAndRemembered(t *testing.T) {
	r := newRig(t, allowAll)
	if _, err := r.gw.Issue(context.Background(), "r1"); err != nil {
		t.Fatal(err)
	}
	r.revoke(t)
	_, err := r.gw.Issue(context.Background(), "r2")
	var revoked *gateway.RevokedError
	if !errors.As(err, &revoked) || revoked.By != "secops" || revoked.Reason != "laptop stolen" {
		t.Fatalf("err = %v, want revoked by secops", err)
	}
	if !strings.Contains(err.Error(), "session revoked by secops at 2026-11-27T10:00:00Z: laptop stolen") {
		t.Errorf("message = %q", err.Error())
	}
	if rec := r.log.last(t); rec.Outcome != gateway.OutcomeRevoked {
		t.Errorf("decision outcome %q, want revoked", rec.Outcome)
	}
	// Even with the store gone and fail-open, a seen revoke stays refused.
	r2 := gateway.New(gateway.Config{Profile: "prod", Identity: ports.Identity{Name: "alice"}, SessionID: r.sid, OnStoreError: session.StoreErrorAllow},
		gateway.Deps{Policy: r.policy, Source: r.source, Clock: r.clock, Sessions: failingStore{r.store}, Tracker: r.tracker})
	if _, err := r2.Issue(context.Background(), "r3"); !errors.As(err, &revoked) {
		t.Fatalf("err = %v, want the remembered revoke while the store is down", err)
	}
}

// failingStore is the memory store with every read failing, as a store that went away.
type failingStore struct{ *memory.Store }

func (failingStore) GetSession(context.Context, string) (ports.Session, error) {
	return ports.Session{}, errors.New("dial tcp 127.0.0.1:6379: connection refused")
}

func TestStoreErrorPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy  session.StoreErrorPolicy
		wantErr bool
	}{{session.StoreErrorAllow, false}, {session.StoreErrorDeny, true}} {
		t.Run(string(tc.policy), func(t *testing.T) {
			r := newRig(t, allowAll, func(c *gateway.Config, d *gateway.Deps) {
				c.OnStoreError = tc.policy
				d.Sessions = failingStore{d.Sessions.(*memory.Store)}
			})
			_, err := r.gw.Issue(context.Background(), "r")
			var storeErr *gateway.StoreError
			if tc.wantErr != errors.As(err, &storeErr) {
				t.Fatalf("err = %v, want StoreError: %v", err, tc.wantErr)
			}
			if tc.wantErr && strings.Contains(err.Error(), "6379") {
				t.Errorf("the message leaks internal error text: %q", err.Error())
			}
		})
	}
}

func TestExpiredSessionIsRefused(t *testing.T) {
	r := newRig(t, allowAll)
	r.clock.Advance(4 * time.Hour) // past the 3h lease, no heartbeat ran
	_, err := r.gw.Issue(context.Background(), "r")
	var ended *gateway.SessionEndedError
	if !errors.As(err, &ended) {
		t.Fatalf("err = %v, want SessionEndedError", err)
	}
}

func TestCredentialCache(t *testing.T) {
	r := newRig(t, allowAll)
	for i := range 5 {
		if _, err := r.gw.Issue(context.Background(), "r"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if n := r.source.calls.Load(); n != 1 {
		t.Fatalf("source called %d times for 5 requests, want 1", n)
	}
	// 11m later the 15m credential has 4m left, under the 5m floor: refresh.
	r.clock.Advance(11 * time.Minute)
	if _, err := r.gw.Issue(context.Background(), "r"); err != nil {
		t.Fatal(err)
	}
	if n := r.source.calls.Load(); n != 2 {
		t.Fatalf("source called %d times, want a refresh near expiry", n)
	}
}

func TestSourceErrorsAreNotCached(t *testing.T) {
	r := newRig(t, allowAll)
	r.source.fail.Store(true)
	_, err := r.gw.Issue(context.Background(), "r1")
	var srcErr *gateway.SourceError
	if !errors.As(err, &srcErr) {
		t.Fatalf("err = %v, want SourceError", err)
	}
	r.source.fail.Store(false)
	if _, err := r.gw.Issue(context.Background(), "r2"); err != nil {
		t.Fatalf("the failure was cached: %v", err)
	}
	if n := r.source.calls.Load(); n != 2 {
		t.Errorf("source called %d times, want 2", n)
	}
}

func TestRequestsAreCounted(t *testing.T) {
	r := newRig(t, allowAll)
	const n = 37
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.gw.Issue(context.Background(), "r"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := r.tracker.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, err := r.store.GetSession(context.Background(), r.sid)
	if err != nil {
		t.Fatal(err)
	}
	if s.RequestCount != n {
		t.Fatalf("request_count = %d, want %d", s.RequestCount, n)
	}
}

// Every denial a person can hit names the rule and the reason, and says what would get access.
func TestDenialMessagesSayWhatToDo(t *testing.T) {
	tests := []struct {
		name, effect string
		mode         policy.Mode
		tracking     bool
		want         []string
	}{
		{"deny", "deny", policy.ModeServer, true, []string{"policy denied: rule r: because"}},
		{"require_server", "require_server", policy.ModeCLI, false, []string{"rule r: because", "add --server", "sentinel exec --server --profile prod"}},
		{"require_server_session", "require_server_session", policy.ModeServer, false, []string{"rule r", "configure a store"}},
		{"require_approval", "require_approval", policy.ModeServer, true, []string{"rule r", "run sentinel request --profile prod"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, "version: \"1\"\nrules:\n  - name: r\n    effect: "+tc.effect+"\n    reason: because\n", func(c *gateway.Config, _ *gateway.Deps) {
				c.Mode = tc.mode
				if !tc.tracking {
					c.SessionID = ""
				}
			})
			_, err := r.gw.Issue(context.Background(), "req")
			if err == nil {
				t.Fatal("served")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err.Error(), w)
				}
			}
		})
	}
}

func parseForBench(doc string) (*policy.Policy, error) { return policy.Parse([]byte(doc)) }

// corruptStore answers every read with a record it cannot decode.
type corruptStore struct{ *memory.Store }

func (corruptStore) GetSession(context.Context, string) (ports.Session, error) {
	return ports.Session{}, fmt.Errorf("redis: get session: unknown status \"paused\": %w", ports.ErrCorrupt)
}

// A corrupt session record is never a reason to serve, even fail-open.
func TestCorruptSessionIsRefusedEvenFailOpen(t *testing.T) {
	r := newRig(t, allowAll, func(c *gateway.Config, d *gateway.Deps) {
		c.OnStoreError = session.StoreErrorAllow
		d.Sessions = corruptStore{d.Sessions.(*memory.Store)}
	})
	_, err := r.gw.Issue(context.Background(), "r")
	var storeErr *gateway.StoreError
	if !errors.As(err, &storeErr) || !storeErr.Corrupt || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("err = %v, want a refusal naming the corrupt record", err)
	}
	if r.source.calls.Load() != 0 {
		t.Fatal("credentials were fetched for a corrupt session")
	}
}
