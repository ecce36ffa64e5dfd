package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// warnings returns the warn records, failing unless there are want of them.
func warnings(t *testing.T, logs *syncBuffer, want int) []map[string]any {
	t.Helper()
	w := logs.records(t, "WARN")
	if len(w) != want {
		t.Fatalf("%d warnings, want %d; logs:\n%s", len(w), want, logs)
	}
	return w
}

// TestRetryPolicy: 5xx and 429 are retried up to MaxAttempts with the same
// delivery id and a fresh signature each time; other 4xx are not retried.
func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		codes        []int
		wantAttempts int
		wantReason   string // "" when delivered
	}{
		{"200 at once", []int{200}, 1, ""},
		{"500, 500, then 204", []int{500, 500, 204}, 3, ""},
		{"503 then 200", []int{503, 200}, 2, ""},
		{"429 without Retry-After, then 200", []int{429, 200}, 2, ""},
		{"500 until attempts run out", []int{500}, 4, "attempts exhausted"},
		{"502 until attempts run out", []int{502}, 4, "attempts exhausted"},
		{"400 is not retried", []int{400, 200}, 1, "refused by the receiver, not retried"},
		{"401 is not retried", []int{401, 200}, 1, "refused by the receiver, not retried"},
		{"404 is not retried", []int{404, 200}, 1, "refused by the receiver, not retried"},
		{"422 is not retried", []int{422, 200}, 1, "refused by the receiver, not retried"},
		{"500 then 400 stops", []int{500, 400, 200}, 2, "refused by the receiver, not retried"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, statuses(tt.codes...))
			n, logs := newTestNotifier(t, []policy.Webhook{hookTo("audit", rc.URL)}, nil)
			n.Notify(context.Background(), requestNote(ports.EventRequestCreated))

			got := rc.requests()
			if len(got) != tt.wantAttempts {
				t.Fatalf("receiver got %d attempts, want %d", len(got), tt.wantAttempts)
			}
			for i, r := range got {
				if r.header.Get(HeaderDelivery) != got[0].header.Get(HeaderDelivery) || string(r.body) != string(got[0].body) {
					t.Errorf("attempt %d changed the delivery id or body; retries must be identical", i+1)
				}
				if err := Verify([]byte(testSecret), r.header.Get(HeaderTimestamp), r.header.Get(HeaderSignature), r.body, time.Now(), time.Minute); err != nil {
					t.Errorf("attempt %d does not verify: %v", i+1, err)
				}
			}
			if tt.wantReason == "" {
				warnings(t, logs, 0)
				return
			}
			w := warnings(t, logs, 1)[0]
			lastCode := tt.codes[min(tt.wantAttempts, len(tt.codes))-1]
			if w["attempts"] != float64(tt.wantAttempts) || w["status"] != float64(lastCode) || w["reason"] != tt.wantReason {
				t.Errorf("warning = %v, want attempts %d, status %d, reason %q", w, tt.wantAttempts, lastCode, tt.wantReason)
			}
		})
	}
}

// TestNetworkErrorsAreRetried: a receiver that drops the connection without
// answering is retried like a 5xx.
func TestNetworkErrorsAreRetried(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(attempt int, w http.ResponseWriter, _ *http.Request) {
		if attempt <= 2 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			_ = conn.Close()
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	n, logs := newTestNotifier(t, []policy.Webhook{hookTo("audit", rc.URL)}, nil)
	n.Notify(context.Background(), requestNote(ports.EventRequestCreated))
	if got := len(rc.requests()); got != 3 {
		t.Fatalf("receiver got %d attempts, want 3 (two dropped, then success)", got)
	}
	warnings(t, logs, 0)
}

// TestConnectionRefusedIsRetriedAndLogged: nobody listens; every attempt is
// made and the failure is logged with the error but not the URL.
func TestConnectionRefusedIsRetriedAndLogged(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()

	n, logs := newTestNotifier(t, []policy.Webhook{hookTo("gone", "http://"+addr+"/hooks/T0PATHTOKEN")}, nil)
	n.Notify(context.Background(), requestNote(ports.EventRequestCreated))
	w := warnings(t, logs, 1)[0]
	if w["attempts"] != float64(DefaultMaxAttempts) || w["reason"] != "attempts exhausted" {
		t.Errorf("warning = %v, want %d attempts, attempts exhausted", w, DefaultMaxAttempts)
	}
	if e, _ := w["error"].(string); !strings.Contains(e, "refused") {
		t.Errorf("error = %q, want the connection refusal", e)
	}
	if strings.Contains(logs.String(), "T0PATHTOKEN") {
		t.Errorf("the URL (whose path may be a credential) was logged:\n%s", logs)
	}
}

// TestRetryAfter: a 429's Retry-After is waited out when it fits in the
// time bound, and ends the delivery at once when it does not.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	t.Run("waited when it fits", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, func(attempt int, w http.ResponseWriter, _ *http.Request) {
			if attempt == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		n, logs := newTestNotifier(t, []policy.Webhook{hookTo("audit", rc.URL)}, nil)
		n.Notify(context.Background(), requestNote(ports.EventRequestCreated))
		got := rc.requests()
		if len(got) != 2 {
			t.Fatalf("receiver got %d attempts, want 2", len(got))
		}
		if gap := got[1].at.Sub(got[0].at); gap < time.Second {
			t.Errorf("retried after %v, want at least Retry-After's 1s (backoff alone is 1ms)", gap)
		}
		warnings(t, logs, 0)
	})
	t.Run("given up when it does not fit", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
		})
		hook := hookTo("audit", rc.URL)
		hook.Timeout = 2 * time.Second
		n, logs := newTestNotifier(t, []policy.Webhook{hook}, nil)
		start := time.Now()
		n.Notify(context.Background(), requestNote(ports.EventRequestCreated))
		if took := time.Since(start); took > time.Second {
			t.Errorf("Notify took %v; a Retry-After past the 2s bound should end it at once", took)
		}
		if got := len(rc.requests()); got != 1 {
			t.Errorf("receiver got %d attempts, want 1", got)
		}
		w := warnings(t, logs, 1)[0]
		if w["status"] != float64(429) || w["reason"] != "the next retry would not fit in the time bound" {
			t.Errorf("warning = %v", w)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"3", 3 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"-1", 0, false},
		{"99999999999999", maxBackoff, true},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.value, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestBackoffDoublesWithJitter: attempt k waits in [d/2, d] where
// d = base * 2^(k-1), capped, and the draws are not all equal.
func TestBackoffDoublesWithJitter(t *testing.T) {
	t.Parallel()
	n := &Notifier{baseBackoff: 100 * time.Millisecond}
	for attempt, d := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: 1600 * time.Millisecond, 64: maxBackoff} {
		seen := map[time.Duration]bool{}
		for range 200 {
			w := n.backoff(attempt)
			if w < d/2 || w > d {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, w, d/2, d)
			}
			seen[w] = true
		}
		if len(seen) < 2 {
			t.Errorf("backoff(%d) drew one value 200 times: no jitter", attempt)
		}
	}
}

// hang blocks until the client gives up on the request (or 10s pass, so a
// notifier that never gives up fails the test instead of hanging it).
func hang(_ int, _ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// TestHangingReceiverIsCutOffAtTimeout: Notify returns once the webhook's
// Timeout is spent, not later, even though attempts remain.
func TestHangingReceiverIsCutOffAtTimeout(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, hang)
	hook := hookTo("slow", rc.URL)
	hook.Timeout = 300 * time.Millisecond
	n, logs := newTestNotifier(t, []policy.Webhook{hook}, nil)

	start := time.Now()
	n.Notify(context.Background(), requestNote(ports.EventRequestCreated))
	took := time.Since(start)
	if took < hook.Timeout || took > hook.Timeout+500*time.Millisecond {
		t.Errorf("Notify took %v, want the 300ms Timeout plus little", took)
	}
	w := warnings(t, logs, 1)[0]
	if w["reason"] != "time bound spent" || w["attempts"] != float64(1) {
		t.Errorf("warning = %v, want 1 attempt, time bound spent", w)
	}
}

// TestTimeoutBoundsAllAttempts: slow failures and their backoffs together
// stay within one Timeout; it is not a per-attempt limit.
func TestTimeoutBoundsAllAttempts(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		time.Sleep(100 * time.Millisecond)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	hook := hookTo("flaky", rc.URL)
	hook.Timeout = time.Second
	n, logs := newTestNotifier(t, []policy.Webhook{hook}, func(c *Config) {
		c.MaxAttempts = 50
		c.BaseBackoff = 20 * time.Millisecond
	})
	start := time.Now()
	n.Notify(context.Background(), requestNote(ports.EventRequestCreated))
	if took := time.Since(start); took > hook.Timeout+500*time.Millisecond {
		t.Errorf("Notify took %v, want at most the 1s Timeout plus little", took)
	}
	attempts := len(rc.requests())
	if attempts < 2 || attempts >= 50 {
		t.Errorf("receiver got %d attempts, want several retries cut short by the bound; logs:\n%s", attempts, logs)
	}
	warnings(t, logs, 1)
}

// TestRedirectIsNotFollowed: a 3xx is a failure, the signed body never
// reaches the redirect's target, also with a caller's own client.
func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	for _, code := range []int{301, 302, 303, 307, 308} {
		for _, own := range []bool{false, true} {
			t.Run(strconv.Itoa(code)+map[bool]string{false: "/default client", true: "/caller's client"}[own], func(t *testing.T) {
				t.Parallel()
				target := newReceiver(t, statuses(200))
				redirector := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, target.URL+"/elsewhere", code)
				})
				n, logs := newTestNotifier(t, []policy.Webhook{hookTo("moved", redirector.URL)}, func(c *Config) {
					if own {
						tr := &http.Transport{DisableKeepAlives: true}
						c.Client = &http.Client{Transport: tr} // default CheckRedirect follows
					}
				})
				n.Notify(context.Background(), requestNote(ports.EventRequestCreated))
				if got := len(target.requests()); got != 0 {
					t.Fatalf("the redirect target got %d requests; redirects must not be followed", got)
				}
				if got := len(redirector.requests()); got != 1 {
					t.Errorf("redirector got %d requests, want 1 (a 3xx is not retried)", got)
				}
				w := warnings(t, logs, 1)[0]
				if w["status"] != float64(code) || w["reason"] != "redirect not followed" {
					t.Errorf("warning = %v, want status %d, redirect not followed", w, code)
				}
			})
		}
	}
}

// TestEventsFilter: each webhook gets exactly the events it lists (all when
// it lists none), with the event in the header.
func TestEventsFilter(t *testing.T) {
	t.Parallel()
	hooks := map[string][]string{
		"everything":      nil,
		"breakglass-only": {ports.EventBreakGlassInvoked, ports.EventBreakGlassClosed},
		"approved-only":   {ports.EventRequestApproved},
	}
	tests := []struct {
		event string
		want  []string
	}{
		{ports.EventRequestCreated, []string{"everything"}},
		{ports.EventRequestApproved, []string{"approved-only", "everything"}},
		{ports.EventRequestDenied, []string{"everything"}},
		{ports.EventBreakGlassInvoked, []string{"breakglass-only", "everything"}},
		{ports.EventBreakGlassClosed, []string{"breakglass-only", "everything"}},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			t.Parallel()
			receivers := map[string]*receiver{}
			var cfg []policy.Webhook
			for name, events := range hooks {
				receivers[name] = newReceiver(t, statuses(204))
				h := hookTo(name, receivers[name].URL)
				h.Events = events
				cfg = append(cfg, h)
			}
			n, _ := newTestNotifier(t, cfg, nil)
			n.Notify(context.Background(), noteFor(tt.event))

			var got []string
			for name, rc := range receivers {
				reqs := rc.requests()
				if len(reqs) > 1 {
					t.Errorf("%s got %d requests, want at most 1", name, len(reqs))
				}
				if len(reqs) > 0 {
					got = append(got, name)
					if e := reqs[0].header.Get(HeaderEvent); e != tt.event {
						t.Errorf("%s: %s = %q, want %q", name, HeaderEvent, e, tt.event)
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("delivered to %v, want %v", got, tt.want)
			}
		})
	}
}

// TestNewChecksSecrets: a missing secret is an error naming its variable;
// no error ever holds a secret value.
func TestNewChecksSecrets(t *testing.T) {
	t.Parallel()
	env := map[string]string{secretEnv: testSecret, "EMPTY_SECRET": ""}
	getenv := func(k string) string { return env[k] }
	good := hookTo("good", "https://hooks.example.com/a")
	tests := []struct {
		name  string
		hooks []policy.Webhook
		want  []string // substrings of the error; nil: no error
	}{
		{"all set", []policy.Webhook{good}, nil},
		{"unset", []policy.Webhook{good, {Name: "ops", URL: "https://hooks.example.com/b", SecretEnv: "OPS_HOOK_SECRET"}},
			[]string{`"ops"`, "OPS_HOOK_SECRET", "unset or empty"}},
		{"empty", []policy.Webhook{{Name: "ops", URL: "https://hooks.example.com/b", SecretEnv: "EMPTY_SECRET"}},
			[]string{`"ops"`, "EMPTY_SECRET"}},
		{"no secret_env", []policy.Webhook{{Name: "bare", URL: "https://hooks.example.com/b"}},
			[]string{`"bare"`, "secret_env"}},
		{"every problem reported", []policy.Webhook{
			{Name: "one", URL: "https://hooks.example.com/1", SecretEnv: "FIRST_MISSING"},
			{Name: "two", URL: "https://hooks.example.com/2", SecretEnv: "SECOND_MISSING"}},
			[]string{"FIRST_MISSING", "SECOND_MISSING"}},
		{"not a URL", []policy.Webhook{{Name: "odd", URL: "hooks.example.com/x", SecretEnv: secretEnv}},
			[]string{`"odd"`, "url"}},
		{"not http", []policy.Webhook{{Name: "ftp", URL: "ftp://hooks.example.com/x", SecretEnv: secretEnv}},
			[]string{`"ftp"`, "url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := New(Config{Webhooks: tt.hooks, Getenv: getenv})
			if tt.want == nil {
				if err != nil || n == nil {
					t.Fatalf("New = %v, %v; want a notifier", n, err)
				}
				return
			}
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q holds a secret value", err)
			}
		})
	}
}

// TestLogsHoldNoSecrets runs deliveries that succeed and fail in every way
// and checks the logs name webhook, event and ids but never the secret, the
// body's contents, the signature or the URL.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	ok := newReceiver(t, statuses(204))
	bad := newReceiver(t, statuses(400))
	broken := newReceiver(t, statuses(500))
	moved := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/T0REDIRECTTOKEN", http.StatusTemporaryRedirect)
	})
	slow := newReceiver(t, hang)
	hooks := []policy.Webhook{
		hookTo("ok", ok.URL+"/T0PATHTOKEN"), hookTo("bad", bad.URL), hookTo("broken", broken.URL),
		hookTo("moved", moved.URL), hookTo("slow", slow.URL),
	}
	hooks[4].Timeout = 200 * time.Millisecond
	n, logs := newTestNotifier(t, hooks, nil)
	note := breakGlassNote(ports.EventBreakGlassInvoked)
	n.Notify(context.Background(), note)

	w := warnings(t, logs, 4)
	var names []string
	for _, rec := range w {
		names = append(names, rec["webhook"].(string))
		if rec["event"] != ports.EventBreakGlassInvoked || rec["subject"] != note.BreakGlass.ID || rec["delivery"] == "" {
			t.Errorf("warning lacks event, subject or delivery id: %v", rec)
		}
	}
	slices.Sort(names)
	if want := []string{"bad", "broken", "moved", "slow"}; !slices.Equal(names, want) {
		t.Errorf("warnings for %v, want %v", names, want)
	}
	if len(logs.records(t, "DEBUG")) != 1 {
		t.Errorf("want one debug record for the delivered webhook; logs:\n%s", logs)
	}
	sig := ok.requests()[0].header.Get(HeaderSignature)
	for _, leak := range []string{testSecret, justification, "T0PATHTOKEN", "T0REDIRECTTOKEN", sig} {
		if strings.Contains(logs.String(), leak) {
			t.Errorf("logs contain %q:\n%s", leak, logs)
		}
	}
}

// TestConcurrentDelivery: each receiver answers only once the other has
// also been reached, which happens only if deliveries run at the same time.
func TestConcurrentDelivery(t *testing.T) {
	t.Parallel()
	arrived := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
	rendezvous := func(self, other string) func(int, http.ResponseWriter, *http.Request) {
		return func(attempt int, w http.ResponseWriter, _ *http.Request) {
			if attempt == 1 {
				close(arrived[self])
			}
			select {
			case <-arrived[other]:
				w.WriteHeader(http.StatusNoContent)
			case <-time.After(2 * time.Second):
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}
	}
	a := newReceiver(t, rendezvous("a", "b"))
	b := newReceiver(t, rendezvous("b", "a"))
	n, logs := newTestNotifier(t, []policy.Webhook{hookTo("a", a.URL), hookTo("b", b.URL)}, func(c *Config) { c.MaxAttempts = 1 })

	start := time.Now()
	n.Notify(context.Background(), requestNote(ports.EventRequestDenied))
	if took := time.Since(start); took > time.Second {
		t.Errorf("Notify took %v; two concurrent deliveries should meet at once", took)
	}
	warnings(t, logs, 0)
	if len(a.requests()) != 1 || len(b.requests()) != 1 {
		t.Errorf("requests: a %d, b %d; want 1 each", len(a.requests()), len(b.requests()))
	}
}

// TestCancelledContextEndsDelivery: cancelling the caller's context stops
// the deliveries and Notify returns at once.
func TestCancelledContextEndsDelivery(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	rc := newReceiver(t, func(attempt int, w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		hang(attempt, w, r)
	})
	n, logs := newTestNotifier(t, []policy.Webhook{hookTo("audit", rc.URL)}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	n.Notify(ctx, requestNote(ports.EventRequestCreated))
	if took := time.Since(start); took > time.Second {
		t.Errorf("Notify took %v after its context ended at 100ms", took)
	}
	if hits.Load() != 1 {
		t.Errorf("receiver got %d attempts, want 1", hits.Load())
	}
	warnings(t, logs, 1)
}

// TestNoGoroutineOutlivesNotify: after Notify returns, no delivery,
// connection or timer goroutine is left, whatever the outcomes were.
func TestNoGoroutineOutlivesNotify(t *testing.T) {
	// Not parallel: goleak compares against this test's own baseline.
	ok := newReceiver(t, statuses(200))
	failing := newReceiver(t, statuses(500))
	slow := newReceiver(t, hang)
	hooks := []policy.Webhook{hookTo("ok", ok.URL), hookTo("failing", failing.URL), hookTo("slow", slow.URL)}
	hooks[2].Timeout = 200 * time.Millisecond
	n, logs := newTestNotifier(t, hooks, nil)
	baseline := goleak.IgnoreCurrent()

	n.Notify(context.Background(), requestNote(ports.EventRequestCreated))
	warnings(t, logs, 2)
	goleak.VerifyNone(t, baseline)
}

// TestUnknownEventGoesOnlyToCatchAll: an event no webhook lists reaches only
// webhooks that take everything; with none, Notify does nothing.
func TestUnknownEventGoesOnlyToCatchAll(t *testing.T) {
	t.Parallel()
	picky := newReceiver(t, statuses(204))
	h := hookTo("picky", picky.URL)
	h.Events = []string{ports.EventRequestCreated}
	n, logs := newTestNotifier(t, []policy.Webhook{h}, nil)
	n.Notify(context.Background(), ports.Notification{Type: "session.revoked", Actor: "x"})
	if len(picky.requests()) != 0 {
		t.Error("a webhook got an event it does not list")
	}
	if logs.String() != "" {
		t.Errorf("nothing to deliver should log nothing:\n%s", logs)
	}
}

// TestSafeErrorDropsURL: a *url.Error's message holds the URL, which may be a credential.
func TestSafeErrorDropsURL(t *testing.T) {
	t.Parallel()
	err := &url.Error{Op: "Post", URL: "https://hooks.example.com/services/T0SECRET", Err: errors.New("connection refused")}
	if got := safeError(err); got != "connection refused" {
		t.Errorf("safeError = %q", got)
	}
}

// TestZeroTimeIsStamped: an event without a time gets the Clock's, and a
// nil Notifier is a no-op rather than a panic.
func TestZeroTimeIsStamped(t *testing.T) {
	t.Parallel()
	clock := ports.NewFakeClock(time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC))
	rc := newReceiver(t, statuses(204))
	n, _ := newTestNotifier(t, []policy.Webhook{hookTo("audit", rc.URL)}, func(c *Config) { c.Clock = clock })
	note := requestNote(ports.EventRequestCreated)
	note.Time = time.Time{}
	n.Notify(context.Background(), note)
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	var body struct{ Time time.Time }
	if err := json.Unmarshal(got[0].body, &body); err != nil || !body.Time.Equal(clock.Now()) {
		t.Errorf("body time = %v (%v), want the clock's %v", body.Time, err, clock.Now())
	}

	var none *Notifier
	none.Notify(context.Background(), note)
}

// TestCancelDuringBackoff: a caller cancelling while a retry waits ends the
// delivery as cancelled, not as a spent time bound.
func TestCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		time.AfterFunc(100*time.Millisecond, cancel) // well after the 500 arrives, well before the 1s backoff ends
		w.WriteHeader(http.StatusInternalServerError)
	})
	n, logs := newTestNotifier(t, []policy.Webhook{hookTo("audit", rc.URL)}, func(c *Config) { c.BaseBackoff = time.Second })
	n.Notify(ctx, requestNote(ports.EventRequestCreated))
	w := warnings(t, logs, 1)[0]
	if w["reason"] != reasonCancelled || w["attempts"] != float64(1) {
		t.Errorf("warning = %v, want 1 attempt, %s", w, reasonCancelled)
	}
}
