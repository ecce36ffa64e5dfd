package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/goleak"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/core/broker"
	"github.com/sentinel-gw/sentinel/ports"
)

// TestMain fails the run if a metrics server outlives its context.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type discardLog struct{ n int }

func (d *discardLog) Record(context.Context, ports.DecisionRecord) error { d.n++; return nil }

func serve(t *testing.T, m *Metrics) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr, done, err := m.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + addr + Path
}

// Counters fed through the decorators read back, over a real HTTP scrape,
// with the values the calls imply.
func TestScrapeAfterObservations(t *testing.T) {
	m := New()
	url := serve(t, m)
	inner := &discardLog{}
	log := m.DecisionLog(inner)
	ctx := context.Background()
	for _, r := range []ports.DecisionRecord{
		{Mode: "server", Effect: "allow", Outcome: "allow"},
		{Mode: "server", Effect: "allow", Outcome: "allow"},
		{Mode: "server", Effect: "deny", Outcome: "deny"},
		{Mode: "server", Effect: "deny", Outcome: "revoked", Error: "session revoked by sec"},
		{Mode: "cli", Effect: "deny", Error: "store down"}, // no Outcome: derived
		{Mode: "cli", Effect: "deny"},
		{Mode: "cli", Effect: "allow"},
		// A broker's audit lines: three sessions revoked, one approval, one break-glass.
		{Action: broker.ActionRevoke, Effect: "allow", SessionID: "s1"},
		{Action: broker.ActionRevoke, Effect: "allow", SessionID: "s2"},
		{Action: broker.ActionRevoke, Effect: "allow", SessionID: "s3"},
		{Action: broker.ActionRequestApprove, Effect: "allow"},
		{Action: broker.ActionBreakGlassOpen, Effect: "allow"},
	} {
		if err := log.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if inner.n != 12 {
		t.Fatalf("the decorator passed %d records on, want 12", inner.n)
	}
	m.ObservePolicy("sha256:aaaaaaaaaaaaaaaa", nil)
	m.ObservePolicy("sha256:aaaaaaaaaaaaaaaa", errors.New("line 3: bad effect")) // refused, old stays
	m.ObservePolicy("sha256:bbbbbbbbbbbbbbbb", nil)
	m.SetActiveSessions(12)

	want := `
# HELP sentinel_credential_requests_total Credential requests decided, by outcome (allow, deny, revoked, error) and request mode.
# TYPE sentinel_credential_requests_total counter
sentinel_credential_requests_total{mode="cli",outcome="allow"} 1
sentinel_credential_requests_total{mode="cli",outcome="deny"} 1
sentinel_credential_requests_total{mode="cli",outcome="error"} 1
sentinel_credential_requests_total{mode="server",outcome="allow"} 2
sentinel_credential_requests_total{mode="server",outcome="deny"} 1
sentinel_credential_requests_total{mode="server",outcome="revoked"} 1
# HELP sentinel_policy_info 1 for the version (sha256 of the file) of the policy in force; no series while none is (every request refused).
# TYPE sentinel_policy_info gauge
sentinel_policy_info{version="sha256:bbbbbbbbbbbbbbbb"} 1
# HELP sentinel_policy_load_errors_total Policy loads refused (invalid, missing, unreadable or unsafe file).
# TYPE sentinel_policy_load_errors_total counter
sentinel_policy_load_errors_total 1
# HELP sentinel_revocations_total Sessions revoked.
# TYPE sentinel_revocations_total counter
sentinel_revocations_total 3
# HELP sentinel_approvals_total Access requests approved.
# TYPE sentinel_approvals_total counter
sentinel_approvals_total 1
# HELP sentinel_breakglass_total Break-glass events opened.
# TYPE sentinel_breakglass_total counter
sentinel_breakglass_total 1
# HELP sentinel_active_sessions Server sessions active now.
# TYPE sentinel_active_sessions gauge
sentinel_active_sessions 12
`
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(want),
		"sentinel_credential_requests_total", "sentinel_policy_info", "sentinel_policy_load_errors_total",
		"sentinel_revocations_total", "sentinel_approvals_total", "sentinel_breakglass_total", "sentinel_active_sessions"); err != nil {
		t.Error(err)
	}

	// No policy in force: the info series goes, and the failure is counted.
	m.ObservePolicy("", errors.New("policy file gone"))
	if n := testutil.CollectAndCount(m.policyInfo); n != 0 {
		t.Errorf("%d sentinel_policy_info series with no policy in force, want 0", n)
	}
	if got := testutil.ToFloat64(m.policyLoadErrors); got != 2 {
		t.Errorf("sentinel_policy_load_errors_total = %v, want 2", got)
	}
}

// The store decorator times each call by method and counts faults, not
// answers (not found is an answer).
func TestSessionStoreDecorator(t *testing.T) {
	clock := ports.NewFakeClock(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	m := New(Options{Clock: clock})
	store := m.SessionStore(memory.New(clock))
	ctx := context.Background()
	s := ports.Session{ID: "s1", User: "alice", Profile: "prod", Status: ports.SessionActive, StartedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
	if _, err := store.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetSession(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetSession(ctx, "missing"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	if _, err := store.CreateSession(ctx, ports.Session{}); err == nil {
		t.Fatal("an empty session was created")
	}
	if got := testutil.CollectAndCount(m.storeDuration); got != 2 {
		t.Errorf("%d operation series, want 2 (CreateSession, GetSession)", got)
	}
	want := `
# HELP sentinel_store_errors_total Store operations that failed (not found and conflicts are answers, not errors), by operation.
# TYPE sentinel_store_errors_total counter
sentinel_store_errors_total{operation="CreateSession"} 1
`
	if err := testutil.CollectAndCompare(m.storeErrors, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// The handler wrapper observes every request into the latency histogram.
func TestInstrumentHandler(t *testing.T) {
	m := New()
	h := m.InstrumentHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}
	out, err := testutil.CollectAndFormat(m.requestDuration, expfmt.TypeTextPlain, "sentinel_credential_request_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "sentinel_credential_request_duration_seconds_count 3\n") {
		t.Errorf("histogram after 3 requests:\n%s", out)
	}
}

// Only GET /metrics is served; the listener is stopped with the context.
func TestServeAnswersOnlyMetrics(t *testing.T) {
	m := New()
	url := serve(t, m)
	res, err := http.Get(strings.TrimSuffix(url, Path) + "/other")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /other = %d, want 404", res.StatusCode)
	}
	res, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "go_goroutines") || !strings.Contains(string(body), "process_") {
		t.Errorf("GET /metrics = %d, want 200 with the Go and process collectors:\n%.300s", res.StatusCode, body)
	}
	if _, _, err := m.Serve(context.Background(), "127.0.0.1:-1"); err == nil || !strings.Contains(err.Error(), "metrics: listen") {
		t.Errorf("a bad address: err = %v", err)
	}
}

// A broker's audit records are not credential requests: an allowed revoke
// of a session, an approval and a break-glass opening count in their own
// counters; refused actions and the summary line of a bulk revoke count
// nowhere.
func TestBrokerActionsCountInTheirOwnCounters(t *testing.T) {
	m := New()
	for _, r := range []ports.DecisionRecord{
		{Action: broker.ActionRevoke, Effect: "allow", Target: "user:alice"},
		{Action: broker.ActionRevoke, Effect: "allow", SessionID: "s1"},
		{Action: broker.ActionRevoke, Effect: "allow", SessionID: "s2"},
		{Action: broker.ActionRevoke, Effect: "deny", SessionID: "s3", Error: "not permitted"},
		{Action: broker.ActionRequestApprove, Effect: "allow"},
		{Action: broker.ActionRequestApprove, Effect: "deny"},
		{Action: broker.ActionBreakGlassOpen, Effect: "allow"},
		{Action: broker.ActionListSessions, Effect: "allow"},
		{Mode: "server", Effect: "allow", Outcome: OutcomeAllow},
	} {
		m.ObserveDecision(r)
	}
	for name, c := range map[string]struct {
		got  float64
		want float64
	}{
		"revocations": {testutil.ToFloat64(m.revocations), 2},
		"approvals":   {testutil.ToFloat64(m.approvals), 1},
		"breakglass":  {testutil.ToFloat64(m.breakGlass), 1},
		"requests":    {float64(testutil.CollectAndCount(m.requests)), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
}

// ackStore is a session store that confirms reads, as DynamoDB's does.
type ackStore struct {
	*memory.Store
	acked []int64
}

func (a *ackStore) AckRead(_ context.Context, _ string, version int64) error {
	a.acked = append(a.acked, version)
	return nil
}

// The session decorator keeps a store's read confirmation: a server's view
// finds it by type, and a revoker waits for it.
func TestSessionStoreDecoratorKeepsReadAcks(t *testing.T) {
	m := New()
	inner := &ackStore{Store: memory.New(ports.NewFakeClock(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)))}
	a, ok := m.SessionStore(inner).(ports.ReadAcknowledger)
	if !ok {
		t.Fatal("the timed store of a read-confirming store confirms no reads")
	}
	if err := a.AckRead(context.Background(), "0123456789abcdef0123456789abcdef", 3); err != nil || len(inner.acked) != 1 || inner.acked[0] != 3 {
		t.Fatalf("AckRead through the decorator: %v, store saw %v", err, inner.acked)
	}
	if _, ok := m.SessionStore(memory.New(ports.NewFakeClock(time.Now()))).(ports.ReadAcknowledger); ok {
		t.Error("the timed store of a store without read confirmation claims one")
	}
}

// The whole-store decorator times the session methods and keeps the
// optional ports the broker relies on (active listings, stats, retention).
func TestStoresDecoratorKeepsTheOptionalPorts(t *testing.T) {
	m := New()
	clock := ports.NewFakeClock(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
	s := m.Stores(memory.New(clock))
	// The optional ports are the decorator's by type; their calls reach the store.
	if _, err := s.(ports.StatsReader).Stats(context.Background()); err != nil {
		t.Errorf("Stats through the decorator: %v", err)
	}
	if _, err := s.(ports.RetentionSweeper).DeleteRetired(context.Background(), ports.Cutoffs{}, nil); err != nil {
		t.Errorf("DeleteRetired through the decorator: %v", err)
	}
	if _, err := s.GetSession(context.Background(), "0123456789abcdef0123456789abcdef"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("GetSession of nothing: %v", err)
	}
	if _, err := s.(ports.ActiveSessionLister).ListActiveSessionsByUser(context.Background(), "alice", ports.Page{Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.storeDuration); n != 2 {
		t.Errorf("%d store operations timed, want 2 (GetSession, ListActiveSessionsByUser)", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
