package webhook

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// TestMain fails the run if any goroutine (receiver, connection, delivery)
// outlives its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Values a test searches the logs for: a leak would be unmistakable.
const (
	secretEnv     = "SENTINEL_TEST_HOOK_SECRET"
	testSecret    = "whsec-7f3a9c0e-DO-NOT-LOG-b41d2e"
	justification = "JUSTIFICATION-MARKER prod database is down, incident 4711"
)

func testGetenv(name string) string {
	if name == secretEnv {
		return testSecret
	}
	return ""
}

// syncBuffer collects log output from concurrent deliveries.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records parses the JSON log lines at level (all levels when "").
func (b *syncBuffer) records(t *testing.T, level string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		if level == "" || rec["level"] == level {
			out = append(out, rec)
		}
	}
	return out
}

// received is one request as a receiver saw it.
type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a real HTTP server on 127.0.0.1 that records every request
// and answers as respond says (attempt counts from 1).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	respond func(attempt int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, respond func(attempt int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body, at: time.Now()})
		n := len(rc.got)
		rc.mu.Unlock()
		rc.respond(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// statuses answers the i-th request with codes[i], repeating the last.
func statuses(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(attempt int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(codes[min(attempt, len(codes))-1])
	}
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// hookTo is a webhook for url with the test secret and every event.
func hookTo(name, url string) policy.Webhook {
	return policy.Webhook{Name: name, URL: url, SecretEnv: secretEnv, Timeout: 5 * time.Second}
}

// newTestNotifier builds a notifier that logs JSON at debug level into the
// returned buffer. Backoff is short so retry tests run fast; edit adjusts cfg.
func newTestNotifier(t *testing.T, hooks []policy.Webhook, edit func(*Config)) (*Notifier, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg := Config{
		Webhooks:    hooks,
		Getenv:      testGetenv,
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		BaseBackoff: time.Millisecond,
	}
	if edit != nil {
		edit(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n, logs
}

var noteTime = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

func requestNote(event string) ports.Notification {
	return ports.Notification{
		Type:  event,
		Time:  noteTime,
		Actor: "bob",
		Request: &ports.ApprovalRequest{
			ID: "0123456789abcdef0123456789abcdef", Requester: "alice", Profile: "prod",
			Justification: justification, Duration: time.Hour, Status: ports.RequestApproved,
			CreatedAt: noteTime.Add(-time.Minute), UpdatedAt: noteTime, ExpiresAt: noteTime.Add(time.Hour),
			Approver: "bob", ApprovedAt: noteTime, Version: 2,
		},
	}
}

func breakGlassNote(event string) ports.Notification {
	return ports.Notification{
		Type:  event,
		Time:  noteTime,
		Actor: "alice",
		BreakGlass: &ports.BreakGlassEvent{
			ID: "fedcba9876543210fedcba9876543210", Invoker: "alice", Profile: "prod",
			ReasonCode: "incident", Justification: justification, Duration: time.Hour,
			Status: ports.BreakGlassActive, CreatedAt: noteTime, UpdatedAt: noteTime,
			ExpiresAt: noteTime.Add(time.Hour), Version: 1,
		},
	}
}

func noteFor(event string) ports.Notification {
	if strings.HasPrefix(event, "breakglass.") {
		return breakGlassNote(event)
	}
	return requestNote(event)
}
