package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/webhook"
	"github.com/sentinel-gw/sentinel/ports"
)

// delivery is one POST a test receiver got.
type delivery struct {
	path                        string
	event, timestamp, signature string
	body                        []byte
	note                        ports.Notification
}

// receiver is a local webhook endpoint; /broken always answers 500.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []delivery
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := delivery{path: req.URL.Path, event: req.Header.Get(webhook.HeaderEvent), timestamp: req.Header.Get(webhook.HeaderTimestamp),
			signature: req.Header.Get(webhook.HeaderSignature), body: body}
		_ = json.Unmarshal(body, &d.note)
		r.mu.Lock()
		r.got = append(r.got, d)
		r.mu.Unlock()
		if req.URL.Path == "/broken" {
			http.Error(w, "down", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries(path string) []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []delivery
	for _, d := range r.got {
		if d.path == path {
			out = append(out, d)
		}
	}
	return out
}

const hookSecretEnv = "SENTINEL_TEST_HOOK_SECRET"

// Every create, decision, invocation and close is told to the webhooks,
// signed; a receiver that fails is retried and logged and never fails the
// command; a webhook without its secret stops the command before it acts.
func TestOverrideWebhooks(t *testing.T) {
	t.Parallel()
	recv := newReceiver(t)
	w := newOverrideWorld(t, `version: "1"
rules:
  - name: needs-approval
    effect: require_approval
    conditions:
      profiles: [prod]
approvals:
  - name: prod-approvals
    profiles: [prod]
    approvers: [bob]
    auto_approve:
      users: [carol]
      max_duration: 1h
breakglass:
  - name: db-emergency
    profiles: [db]
    users: [alice]
notifications:
  webhooks:
    - name: audit
      url: `+recv.srv.URL+`/hook
      secret_env: `+hookSecretEnv+`
      timeout: 5s
    - name: down
      url: `+recv.srv.URL+`/broken
      secret_env: `+hookSecretEnv+`
      events: [request.created]
      timeout: 1s
`, nil)
	justify := []string{"--justification", "investigating ticket 99"}

	// No secret: refused before anything is stored or sent, naming the variable.
	w.refuse(alice, []string{hookSecretEnv}, append([]string{"request", "--profile", "prod"}, justify...)...)
	// Nothing was ever stored, so there is no store to list.
	if r := w.runAs(alice, "requests", "--output", "json"); r.code != 1 || !strings.Contains(r.stderr, "nothing recorded there yet") {
		t.Fatalf("a command without its webhook secret stored a request: requests says %s", r)
	}
	if len(recv.deliveries("/hook")) != 0 {
		t.Fatalf("a command without its webhook secret acted: %d deliveries", len(recv.deliveries("/hook")))
	}

	secret := "s3cr3t-for-the-test-receiver"
	w.base[hookSecretEnv] = secret
	began := time.Now()
	created := w.mustRunAs(alice, append([]string{"request", "--profile", "prod"}, justify...)...)
	took := time.Since(began)
	id := idFrom(t, created)
	if !strings.Contains(created.stderr, "webhook delivery failed") || strings.Contains(created.stderr, secret) {
		t.Errorf("the failing receiver is not logged (or the secret is):\n%s", created.stderr)
	}
	if n := len(recv.deliveries("/broken")); n < 2 {
		t.Errorf("the receiver answering 500 got %d attempts, want retries", n)
	}
	if took > 10*time.Second {
		t.Errorf("sentinel request took %s with a failing webhook; delivery must be time-bounded", took)
	}
	w.mustRunAs(bob, "approve", id, "--comment", "fine")
	w.mustRunAs(bob, "request-cancel", id)

	auto := w.mustRunAs(carol, "request", "--profile", "prod", "--duration", "30m", "--justification", "on call, checking alarms")
	autoID := idFrom(t, auto)
	if !strings.Contains(auto.stdout, "approved automatically by approval rule prod-approvals") {
		t.Errorf("carol's request is not auto-approved: %s", auto)
	}
	if got := w.request(autoID); got.Status != ports.RequestApproved || got.Approver != "auto:prod-approvals" {
		t.Errorf("auto-approved request %+v", got)
	}
	bg := idFrom(t, w.mustRunAs(alice, "breakglass", "--profile", "db", "--reason-code", "incident", "--justification", "the replica is lagging by an hour"))
	w.mustRunAs(alice, "breakglass-close", bg, "--reason", "caught up")

	want := []struct{ event, actor, subject string }{
		{ports.EventRequestCreated, "alice", id},
		{ports.EventRequestApproved, "bob", id},
		{ports.EventRequestCreated, "carol", autoID},
		{ports.EventRequestApproved, "auto:prod-approvals", autoID},
		{ports.EventBreakGlassInvoked, "alice", bg},
		{ports.EventBreakGlassClosed, "alice", bg},
	}
	got := recv.deliveries("/hook")
	if len(got) != len(want) {
		t.Fatalf("the receiver got %d deliveries, want %d (a cancel sends none)", len(got), len(want))
	}
	for i, d := range got {
		if err := webhook.Verify([]byte(secret), d.timestamp, d.signature, d.body, time.Now(), 0); err != nil {
			t.Errorf("delivery %d (%s): signature does not verify: %v", i, d.event, err)
		}
		n := d.note
		subject := ""
		switch {
		case n.Request != nil:
			subject = n.Request.ID
		case n.BreakGlass != nil:
			subject = n.BreakGlass.ID
		}
		if d.event != want[i].event || n.Type != want[i].event || n.Actor != want[i].actor || subject != want[i].subject {
			t.Errorf("delivery %d: %s (header %s) by %q about %s; want %s by %q about %s", i, n.Type, d.event, n.Actor, subject,
				want[i].event, want[i].actor, want[i].subject)
		}
	}
	if r := got[0].note.Request; r == nil || r.Status != ports.RequestPending || r.Justification != "investigating ticket 99" {
		t.Errorf("request.created carries %+v, want the pending request", r)
	}
}
