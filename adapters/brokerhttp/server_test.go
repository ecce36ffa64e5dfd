package brokerhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/httpserver"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// TestEveryRouteRoundTrips calls every operation through the Client over
// TLS and compares the answer with the service's own answer for the same
// input: inputs, the verified caller and outputs all cross the wire intact.
func TestEveryRouteRoundTrips(t *testing.T) {
	b := startBroker(t)
	ctx := context.Background()
	direct := &fakeService{}
	cases := []struct {
		name   string
		remote func(c *Client) (any, error)
		local  func(s ports.BrokerService) (any, error)
	}{
		{"whoami", func(c *Client) (any, error) { return c.WhoAmI(ctx) },
			func(s ports.BrokerService) (any, error) { return s.WhoAmI(ctx, testCaller) }},
		{"open", func(c *Client) (any, error) {
			return c.OpenSession(ctx, ports.OpenSessionInput{Profile: "prod", Duration: time.Hour, RevocationPoll: 5 * time.Second})
		}, func(s ports.BrokerService) (any, error) {
			return s.OpenSession(ctx, testCaller, ports.OpenSessionInput{Profile: "prod", Duration: time.Hour, RevocationPoll: 5 * time.Second})
		}},
		{"heartbeat", func(c *Client) (any, error) { return c.Heartbeat(ctx, "s-1") },
			func(s ports.BrokerService) (any, error) { return s.Heartbeat(ctx, testCaller, "s-1") }},
		{"close", func(c *Client) (any, error) { return nil, c.CloseSession(ctx, "s-2") },
			func(s ports.BrokerService) (any, error) { return nil, s.CloseSession(ctx, testCaller, "s-2") }},
		{"credentials", func(c *Client) (any, error) {
			return c.SessionCredentials(ctx, ports.SessionCredentialsInput{SessionID: "s-3", RequestID: "req-9"})
		}, func(s ports.BrokerService) (any, error) {
			creds, err := s.SessionCredentials(ctx, testCaller, ports.SessionCredentialsInput{SessionID: "s-3", RequestID: "req-9"})
			creds.Origin = ports.CredentialOrigin{} // never served
			return creds, err
		}},
		{"oneshot", func(c *Client) (any, error) {
			return c.OneShot(ctx, ports.OneShotInput{Profile: "dev", Mode: "credential_process", Duration: time.Minute})
		}, func(s ports.BrokerService) (any, error) {
			return s.OneShot(ctx, testCaller, ports.OneShotInput{Profile: "dev", Mode: "credential_process", Duration: time.Minute})
		}},
		{"list-sessions", func(c *Client) (any, error) {
			return c.ListSessions(ctx, ports.ListSessionsInput{Status: "active", User: "bob", Profile: "prod", Since: time.Hour, Limit: 7, Cursor: "c1"})
		}, func(s ports.BrokerService) (any, error) {
			return s.ListSessions(ctx, testCaller, ports.ListSessionsInput{Status: "active", User: "bob", Profile: "prod", Since: time.Hour, Limit: 7, Cursor: "c1"})
		}},
		{"show-session", func(c *Client) (any, error) { return c.ShowSession(ctx, "abc") },
			func(s ports.BrokerService) (any, error) { return s.ShowSession(ctx, testCaller, "abc") }},
		{"revoke", func(c *Client) (any, error) {
			return c.Revoke(ctx, ports.RevokeInput{ID: "s-4", Reason: "left the company"})
		}, func(s ports.BrokerService) (any, error) {
			return s.Revoke(ctx, testCaller, ports.RevokeInput{ID: "s-4", Reason: "left the company"})
		}},
		{"create-request", func(c *Client) (any, error) {
			return c.CreateRequest(ctx, ports.RequestInput{Profile: "prod", Justification: "deploy the fix", Duration: 2 * time.Hour})
		}, func(s ports.BrokerService) (any, error) {
			return s.CreateRequest(ctx, testCaller, ports.RequestInput{Profile: "prod", Justification: "deploy the fix", Duration: 2 * time.Hour})
		}},
		{"decide", func(c *Client) (any, error) {
			return c.DecideRequest(ctx, ports.DecideInput{ID: "r-1", Approve: true, Comment: "ok"})
		}, func(s ports.BrokerService) (any, error) {
			return s.DecideRequest(ctx, testCaller, ports.DecideInput{ID: "r-1", Approve: true, Comment: "ok"})
		}},
		{"cancel", func(c *Client) (any, error) { return c.CancelRequest(ctx, "r-2") },
			func(s ports.BrokerService) (any, error) { return s.CancelRequest(ctx, testCaller, "r-2") }},
		{"list-requests", func(c *Client) (any, error) {
			return c.ListRequests(ctx, ports.ListRequestsInput{Status: "pending", Requester: "bob", Profile: "prod", Limit: 3})
		}, func(s ports.BrokerService) (any, error) {
			return s.ListRequests(ctx, testCaller, ports.ListRequestsInput{Status: "pending", Requester: "bob", Profile: "prod", Limit: 3})
		}},
		{"show-request", func(c *Client) (any, error) { return c.ShowRequest(ctx, "r-3") },
			func(s ports.BrokerService) (any, error) { return s.ShowRequest(ctx, testCaller, "r-3") }},
		{"open-breakglass", func(c *Client) (any, error) {
			return c.OpenBreakGlass(ctx, ports.BreakGlassInput{Profile: "prod", ReasonCode: "incident", Justification: "outage", Duration: time.Hour})
		}, func(s ports.BrokerService) (any, error) {
			return s.OpenBreakGlass(ctx, testCaller, ports.BreakGlassInput{Profile: "prod", ReasonCode: "incident", Justification: "outage", Duration: time.Hour})
		}},
		{"close-breakglass", func(c *Client) (any, error) {
			return c.CloseBreakGlass(ctx, ports.CloseBreakGlassInput{ID: "e-1", Reason: "fixed"})
		}, func(s ports.BrokerService) (any, error) {
			return s.CloseBreakGlass(ctx, testCaller, ports.CloseBreakGlassInput{ID: "e-1", Reason: "fixed"})
		}},
		{"list-breakglass", func(c *Client) (any, error) {
			return c.ListBreakGlass(ctx, ports.ListBreakGlassInput{Status: "active", Invoker: "bob", Profile: "prod", Limit: 4})
		}, func(s ports.BrokerService) (any, error) {
			return s.ListBreakGlass(ctx, testCaller, ports.ListBreakGlassInput{Status: "active", Invoker: "bob", Profile: "prod", Limit: 4})
		}},
		{"show-breakglass", func(c *Client) (any, error) { return c.ShowBreakGlass(ctx, "e-2") },
			func(s ports.BrokerService) (any, error) { return s.ShowBreakGlass(ctx, testCaller, "e-2") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.remote(b.client)
			if err != nil {
				t.Fatalf("remote: %v", err)
			}
			want, err := tc.local(direct)
			if err != nil {
				t.Fatalf("local: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("answer\n got %#v\nwant %#v", got, want)
			}
			gotCall, gotID := b.svc.last()
			wantCall, wantID := direct.last()
			if gotCall != wantCall || gotID != wantID {
				t.Fatalf("service saw %q %q, want %q %q", gotCall, gotID, wantCall, wantID)
			}
			if !strings.HasSuffix(gotCall, " by "+testCaller.Name) {
				t.Fatalf("service saw caller %q", gotCall)
			}
		})
	}
	if len(cases) != len(operations) {
		t.Fatalf("%d operations served, %d tested", len(operations), len(cases))
	}
	// The proof, the credentials and the session token never reach the log.
	logs := b.logs.String()
	for _, secret := range []string{testProof, testCreds.SecretAccessKey, testCreds.SessionToken} {
		if strings.Contains(logs, secret) {
			t.Fatalf("log holds a secret %q:\n%s", secret, logs)
		}
	}
}

// TestUnauthenticated: no proof, another scheme, a refused proof: 401 with
// a message saying how to fix it, and the service is never asked. STS
// unreachable from the broker: 503.
func TestUnauthenticated(t *testing.T) {
	b := startBroker(t)
	cases := []struct{ name, auth, want string }{
		{"missing", "", "missing Authorization header"},
		{"bearer", "Bearer " + testProof, "not of scheme Sentinel-STS"},
		{"empty", "Sentinel-STS ", "empty proof"},
		{"too long", "Sentinel-STS " + strings.Repeat("a", MaxProofLength+1), "proof longer than"},
		{"stale", "Sentinel-STS proof-v1.stale", "older than 5 minutes: check the clock"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b.clock.Advance(time.Minute) // refill the failure budget
			resp, body := b.post(t, http.MethodPost, PathWhoAmI, "application/json", tc.auth, []byte(`{}`))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			var env errorEnvelope
			if err := json.Unmarshal(body, &env); err != nil || env.Error.Code != CodeUnauthenticated || !strings.Contains(env.Error.Message, tc.want) {
				t.Fatalf("body %s (%v), want code %s and %q", body, err, CodeUnauthenticated, tc.want)
			}
		})
	}
	if call, _ := b.svc.last(); call != "" {
		t.Fatalf("service called: %s", call)
	}

	// A refused proof, and one of the longest length allowed: both reach
	// the verifier (the header limits leave room for the longest proof).
	for _, proof := range []string{"proof-v1.refused", strings.Repeat("p", MaxProofLength)} {
		b.clock.Advance(time.Minute)
		before := b.verifier.calls.Load()
		_, err := b.newClient(t, proof).WhoAmI(context.Background())
		if !errors.Is(err, ports.ErrUnauthenticated) || !strings.Contains(err.Error(), "check the clock") {
			t.Fatalf("proof of %d bytes: client error %v, want ErrUnauthenticated saying check the clock", len(proof), err)
		}
		if b.verifier.calls.Load() != before+1 {
			t.Fatalf("proof of %d bytes did not reach the verifier", len(proof))
		}
	}
	_, err := b.newClient(t, downProof).WhoAmI(context.Background())
	if !errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrUnauthenticated) {
		t.Fatalf("client error %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "sts.amazonaws.com") {
		t.Fatalf("served the verifier's internal error: %v", err)
	}
	logs := b.logs.String()
	if !strings.Contains(logs, "sts.amazonaws.com") || !strings.Contains(logs, "older than 5 minutes") {
		t.Fatalf("refusals not logged:\n%s", logs)
	}
	for _, proof := range []string{testProof, downProof, "proof-v1.stale", "proof-v1.refused", strings.Repeat("p", 64)} {
		if strings.Contains(logs, proof) {
			t.Fatalf("log holds a proof %.20q", proof)
		}
	}
}

// TestFailedProofsThrottled: past the burst, an address gets 429 and the
// verifier is not asked, until the rate allows again; a good proof from
// elsewhere is never slowed.
func TestFailedProofsThrottled(t *testing.T) {
	b := startBroker(t)
	for i := range badProofBurst {
		resp, body := b.post(t, http.MethodPost, PathWhoAmI, "application/json", "Sentinel-STS bad", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d %s", i, resp.StatusCode, body)
		}
	}
	before := b.verifier.calls.Load()
	resp, body := b.post(t, http.MethodPost, PathWhoAmI, "application/json", "Sentinel-STS bad", nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d %s, want 429 with Retry-After", resp.StatusCode, body)
	}
	if b.verifier.calls.Load() != before {
		t.Fatal("verifier asked while throttled")
	}
	_, err := b.client.WhoAmI(context.Background())
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("throttled client error %v, want ErrUnavailable (retry later)", err)
	}
	// Health checks are never throttled.
	if resp, _ := b.post(t, http.MethodGet, PathHealthz, "", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz while throttled: %d", resp.StatusCode)
	}
	b.clock.Advance(2 * time.Second)
	if _, err := b.client.WhoAmI(context.Background()); err != nil {
		t.Fatalf("after the rate allows again: %v", err)
	}
}

// TestConcurrentBadProofsBounded: a proof being verified counts against its
// address's failures until it is answered, so distinct bad proofs sent all
// at once reach the verifier (STS) no more often than the burst allows; the
// rest get 429 without waiting.
func TestConcurrentBadProofsBounded(t *testing.T) {
	b := startBroker(t)
	b.verifier.hold = make(chan struct{})
	const sent = 3 * badProofBurst
	statuses := make(chan int, sent)
	var wg sync.WaitGroup
	for i := range sent {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPost, b.srv.URL()+PathWhoAmI, strings.NewReader("{}"))
			if err != nil {
				statuses <- -1
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", fmt.Sprintf("%s proof-v1.forged-%d", AuthScheme, i))
			resp, err := b.raw.Do(req)
			if err != nil {
				statuses <- -1
				return
			}
			_ = resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	// While the verifier holds the first burst, every other call is answered.
	for i := range sent - badProofBurst {
		select {
		case st := <-statuses:
			if st != http.StatusTooManyRequests {
				t.Fatalf("answer %d while proofs are held: status %d, want 429", i, st)
			}
		case <-time.After(10 * time.Second):
			close(b.verifier.hold)
			wg.Wait()
			t.Fatalf("%d of %d calls answered while the verifier held the rest: %d reached it (burst %d)",
				i, sent, b.verifier.calls.Load(), badProofBurst)
		}
	}
	close(b.verifier.hold)
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != http.StatusUnauthorized {
			t.Fatalf("a held call answered %d, want 401", st)
		}
	}
	if got := b.verifier.calls.Load(); got != badProofBurst {
		t.Fatalf("verifier asked %d times for %d concurrent bad proofs, want %d", got, sent, badProofBurst)
	}
}

// TestOneProofAtOnceCountsOnce: many calls carrying one proof, all being
// verified at once (a client's parallel first calls), spend one place of
// the address's budget, not one each: none is refused.
func TestOneProofAtOnceCountsOnce(t *testing.T) {
	b := startBroker(t)
	b.verifier.hold = make(chan struct{})
	const sent = 3 * badProofBurst
	errs := make(chan error, sent)
	var wg sync.WaitGroup
	for range sent {
		wg.Go(func() {
			_, err := b.client.WhoAmI(context.Background())
			errs <- err
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.verifier.calls.Load() < sent && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(b.verifier.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a call carrying a good proof, sent with %d others at once: %v", sent-1, err)
		}
	}
	if got := b.verifier.calls.Load(); got != sent {
		t.Fatalf("verifier asked %d times, want %d (each call held there at once)", got, sent)
	}
}

// TestThrottleSparesRecalledProofs: an address past its failures still gets
// answers for a proof the verifier recalls (verified before, still young);
// a proof that would have to be verified is refused with 429.
func TestThrottleSparesRecalledProofs(t *testing.T) {
	b := startBroker(t)
	if _, err := b.client.WhoAmI(context.Background()); err != nil { // testProof, now recalled
		t.Fatal(err)
	}
	for i := range badProofBurst {
		if resp, body := b.post(t, http.MethodPost, PathWhoAmI, "application/json", "Sentinel-STS bad", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d %s", i, resp.StatusCode, body)
		}
	}
	before := b.verifier.calls.Load()
	got, err := b.client.WhoAmI(context.Background())
	if err != nil || got.ARN != testCaller.ARN {
		t.Fatalf("recalled proof from a throttled address: %v, %v", got, err)
	}
	if resp, body := b.post(t, http.MethodPost, PathWhoAmI, "application/json", AuthScheme+" "+adminProof, []byte("{}")); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a proof not yet verified from a throttled address: status %d %s, want 429", resp.StatusCode, body)
	}
	if b.verifier.calls.Load() != before {
		t.Fatal("verifier asked while the address is throttled")
	}
}

// TestHostileRequests: wrong method, unknown path, wrong content type,
// oversized body (declared and chunked), unknown field, trailing data.
func TestHostileRequests(t *testing.T) {
	b := startBroker(t)
	auth := AuthScheme + " " + testProof
	big := []byte(`{"id":"` + strings.Repeat("x", MaxBodyBytes) + `"}`)
	cases := []struct {
		name, method, path, contentType string
		body                            []byte
		status                          int
		code, allow                     string
	}{
		{"GET on an operation", http.MethodGet, PathOpenSession, "", nil, 405, CodeMethodNotAllowed, "POST"},
		{"PUT on an operation", http.MethodPut, PathRevoke, "application/json", []byte(`{}`), 405, CodeMethodNotAllowed, "POST"},
		{"POST on healthz", http.MethodPost, PathHealthz, "application/json", nil, 405, CodeMethodNotAllowed, "GET, HEAD"},
		{"unknown path", http.MethodPost, "/v1/sessions/delete", "application/json", []byte(`{}`), 404, CodeNotFound, ""},
		{"path with a dot segment", http.MethodPost, "/v1/x/../whoami", "application/json", []byte(`{}`), 404, CodeNotFound, ""},
		{"text body", http.MethodPost, PathWhoAmI, "text/plain", []byte(`{}`), 415, CodeUnsupportedMedia, ""},
		{"oversized body", http.MethodPost, PathShowSession, "application/json", big, 413, CodeTooLarge, ""},
		{"unknown field", http.MethodPost, PathShowSession, "application/json", []byte(`{"id":"a","admin":true}`), 400, CodeBadRequest, ""},
		{"trailing data", http.MethodPost, PathShowSession, "application/json", []byte(`{"id":"a"}{"id":"b"}`), 400, CodeBadRequest, ""},
		{"not JSON", http.MethodPost, PathShowSession, "application/json", []byte(`id=a`), 400, CodeBadRequest, ""},
		{"wrong type", http.MethodPost, PathShowSession, "application/json", []byte(`{"id":7}`), 400, CodeBadRequest, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := b.post(t, tc.method, tc.path, tc.contentType, auth, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Fatalf("Allow %q, want %q", got, tc.allow)
			}
			var env errorEnvelope
			if err := json.Unmarshal(body, &env); err != nil || env.Error.Code != tc.code || env.Error.Message == "" {
				t.Fatalf("body %s (%v), want code %s", body, err, tc.code)
			}
			if env.Error.RequestID == "" || env.Error.RequestID != resp.Header.Get("X-Request-Id") {
				t.Fatalf("request id %q in body, %q in header", env.Error.RequestID, resp.Header.Get("X-Request-Id"))
			}
		})
	}
	if call, _ := b.svc.last(); call != "" {
		t.Fatalf("service called: %s", call)
	}

	t.Run("oversized headers", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, b.srv.URL()+PathWhoAmI, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("X-Padding", strings.Repeat("p", maxHeaderBytes+8<<10))
		resp, err := b.raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})

	t.Run("chunked oversized body", func(t *testing.T) {
		// No Content-Length: the limit is enforced while reading.
		req, err := http.NewRequest(http.MethodPost, b.srv.URL()+PathShowSession, io.MultiReader(bytes.NewReader(big)))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		resp, err := b.raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

// TestSlowHeadersCutOff: a client that sends its headers slowly (slowloris)
// is disconnected after ReadHeaderTimeout.
func TestSlowHeadersCutOff(t *testing.T) {
	b := startBroker(t, func(c *ServerConfig) { c.ReadHeaderTimeout = 300 * time.Millisecond })
	addr := strings.TrimPrefix(b.srv.URL(), "https://")
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test reads the server's reaction, not its identity
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n"); err != nil {
		t.Fatal(err)
	}
	// Dribble one header byte at a time, far slower than a real client.
	done := make(chan error, 1)
	go func() {
		for _, c := range []byte("X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") {
			if _, err := conn.Write([]byte{c}); err != nil {
				done <- err
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		done <- nil
	}()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	answer, err := io.ReadAll(conn)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatalf("connection still open after 10s (ReadHeaderTimeout 300ms): %v", err)
	}
	if strings.Contains(string(answer), "200 OK") {
		t.Fatalf("served: %q", answer)
	}
	_ = conn.Close()
	<-done
}

// TestPlainHTTP: refused on a non-loopback address (saying to pass
// --tls-cert/--tls-key) and without AllowPlainLoopback; allowed on loopback
// with a loud warning. A lone certificate or key is refused.
func TestPlainHTTP(t *testing.T) {
	h, err := NewHandler(Config{Service: &fakeService{}, Verifier: &fakeVerifier{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []ServerConfig{
		{Listen: "0.0.0.0:0", AllowPlainLoopback: true},
		{Listen: ":0", AllowPlainLoopback: true},
		{Listen: "example.com:0", AllowPlainLoopback: true},
		{Listen: "127.0.0.1:0"},
	} {
		cfg.Handler = h
		if s, err := Start(cfg); err == nil || !strings.Contains(err.Error(), "pass --tls-cert and --tls-key") {
			if s != nil {
				_ = s.Shutdown(context.Background())
			}
			t.Fatalf("Start(%q, loopback allowed %v): %v, want a refusal naming --tls-cert and --tls-key", cfg.Listen, cfg.AllowPlainLoopback, err)
		}
	}
	if _, err := Start(ServerConfig{Listen: "127.0.0.1:0", TLSCert: "cert.pem", Handler: h}); err == nil {
		t.Fatal("a certificate without a key was accepted")
	}

	logs := &testkit.LockedBuffer{}
	s, err := Start(ServerConfig{Listen: "127.0.0.1:0", AllowPlainLoopback: true, Handler: h, Logger: newTestLogger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Shutdown(context.Background()) }()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || !strings.Contains(logs.String(), "PLAIN HTTP") {
		t.Fatalf("URL %s, log %s", s.URL(), logs.String())
	}
	c, err := NewClient(ClientConfig{URL: s.URL(), Signer: staticSigner(testProof)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.http.CloseIdleConnections()
	if who, err := c.WhoAmI(context.Background()); err != nil || who != testCaller {
		t.Fatalf("WhoAmI over loopback HTTP: %v %v", who, err)
	}
}

// TestClientURL: http:// only to loopback; no user, query or fragment.
func TestClientURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://broker.example.com":         true,
		"https://broker.example.com:8443/":   true,
		"https://broker.example.com/prefix":  true,
		"http://127.0.0.1:8080":              true,
		"http://localhost:8080":              true,
		"http://[::1]:8080":                  true,
		"http://broker.example.com":          false,
		"http://10.0.0.5:8080":               false,
		"ftp://broker.example.com":           false,
		"broker.example.com:8443":            false,
		"https://user:pw@broker.example.com": false,
		"https://broker.example.com/?x=1":    false,
		"":                                   false,
	} {
		c, err := NewClient(ClientConfig{URL: raw, Signer: staticSigner(testProof)})
		if (err == nil) != ok {
			t.Errorf("NewClient(%q): %v, want ok=%v", raw, err, ok)
		}
		if err != nil && !errors.Is(err, ports.ErrInvalidArgument) {
			t.Errorf("NewClient(%q): %v, want ErrInvalidArgument", raw, err)
		}
		if err == nil && strings.HasSuffix(c.URL(), "/") {
			t.Errorf("NewClient(%q).URL() = %q ends in /", raw, c.URL())
		}
	}
}

// TestClientTrust: without --broker-ca the test certificate is not
// trusted (the broker counts as unreachable); TLS below 1.2 is refused.
func TestClientTrust(t *testing.T) {
	b := startBroker(t)
	c, err := NewClient(ClientConfig{URL: b.srv.URL(), Signer: staticSigner(testProof)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.http.CloseIdleConnections()
	_, err = c.WhoAmI(context.Background())
	if _, isCert := errors.AsType[*tls.CertificateVerificationError](err); !isCert || !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("without --broker-ca: %v, want a certificate error wrapping ErrUnavailable", err)
	}

	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11, //nolint:gosec // the test checks that the broker refuses old TLS
	}}}
	defer old.CloseIdleConnections()
	if resp, err := old.Get(b.srv.URL() + PathHealthz); err == nil {
		resp.Body.Close()
		t.Fatal("the broker accepted TLS 1.1")
	}
}

// TestHealth: /healthz 200 always; /readyz 200 when Ready succeeds, 503
// (without the reason) when it fails, re-asked at most once a second.
func TestHealth(t *testing.T) {
	b := startBroker(t)
	get := func(path string) (int, string) {
		resp, body := b.post(t, http.MethodGet, path, "", "", nil)
		return resp.StatusCode, string(body)
	}
	if status, body := get(PathHealthz); status != 200 || body != `{"status":"ok"}` {
		t.Fatalf("/healthz %d %s", status, body)
	}
	if status, _ := get(PathReadyz); status != 200 {
		t.Fatalf("/readyz %d", status)
	}
	b.svc.mu.Lock()
	b.svc.readyErr = errors.New("store redis://10.1.2.3:6379 unavailable")
	b.svc.mu.Unlock()
	if status, _ := get(PathReadyz); status != 200 {
		t.Fatalf("/readyz within the cache second: %d", status)
	}
	b.clock.Advance(readyCache)
	status, body := get(PathReadyz)
	if status != http.StatusServiceUnavailable || strings.Contains(body, "10.1.2.3") {
		t.Fatalf("/readyz with Ready failing: %d %s", status, body)
	}
	if !strings.Contains(b.logs.String(), "10.1.2.3") {
		t.Fatal("the reason for unreadiness is not logged")
	}
	if status, _ := get(PathHealthz); status != 200 {
		t.Fatalf("/healthz while not ready: %d", status)
	}
}

// TestGracefulShutdown: Shutdown stops accepting new connections, lets an
// in-flight call finish and answer, then returns.
func TestGracefulShutdown(t *testing.T) {
	b := startBroker(t)
	b.svc.hold, b.svc.entered = make(chan struct{}), make(chan struct{}, 1)
	type result struct {
		creds ports.Credentials
		err   error
	}
	inflight := make(chan result, 1)
	go func() {
		creds, err := b.client.SessionCredentials(context.Background(), ports.SessionCredentialsInput{SessionID: "s-1"})
		inflight <- result{creds, err}
	}()
	<-b.svc.entered

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- b.srv.Shutdown(ctx)
	}()
	addr := strings.TrimPrefix(b.srv.URL(), "https://")
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break // no longer accepting
		}
		_ = conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections during shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a call was in flight", err)
	default:
	}
	close(b.svc.hold)
	r := <-inflight
	if r.err != nil || r.creds.AccessKeyID != testCreds.AccessKeyID {
		t.Fatalf("in-flight call: %v %v", r.creds.AccessKeyID, r.err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestSessionIssuerForwards: the local credential server, given the
// client's SessionIssuer, forwards each request to the broker in one
// call, with its request id, and maps the broker's refusals as in solo mode.
func TestSessionIssuerForwards(t *testing.T) {
	b := startBroker(t)
	token, err := httpserver.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	local, err := httpserver.Start(httpserver.Config{Token: token, Issuer: b.client.SessionIssuer("s-42", 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = local.Shutdown(context.Background()) }()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	get := func() (*http.Response, map[string]any) {
		req, err := http.NewRequest(http.MethodGet, local.URL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", token)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	resp, body := get()
	if resp.StatusCode != 200 || body["AccessKeyId"] != testCreds.AccessKeyID || body["Token"] != testCreds.SessionToken {
		t.Fatalf("local server answered %d %v", resp.StatusCode, body)
	}
	call, id := b.svc.last()
	localID := resp.Header.Get("X-Sentinel-Request-Id")
	if call != "credentials by alice" || id != "s-42/"+localID {
		t.Fatalf("broker saw %q %q, want the session and the local request id %q", call, id, localID)
	}
	if !strings.Contains(b.logs.String(), localID) {
		t.Fatalf("broker log does not carry the local request id %s", localID)
	}

	b.svc.setErr(&gateway.RevokedError{SessionID: "s-42", By: "security", Reason: "compromised", At: testInstant})
	resp, body = get()
	if resp.StatusCode != http.StatusForbidden || body["Code"] != "SessionRevoked" || !strings.Contains(body["Message"].(string), "compromised") {
		t.Fatalf("revoked at the broker: local server answered %d %v", resp.StatusCode, body)
	}
}

// TestRequestID: every answer carries X-Request-Id; a caller's plain id is
// kept, a hostile one replaced.
func TestRequestID(t *testing.T) {
	b := startBroker(t)
	for sent, keep := range map[string]bool{"abc-123_x.y": true, "": false, "has space": false, strings.Repeat("a", 65): false} {
		req, err := http.NewRequest(http.MethodGet, b.srv.URL()+PathHealthz, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sent != "" {
			req.Header["X-Request-Id"] = []string{sent}
		}
		resp, err := b.raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("X-Request-Id")
		if got == "" || (got == sent) != keep {
			t.Errorf("sent %q, answered %q (keep=%v)", sent, got, keep)
		}
	}
}

// TestClientReusesConnections: many calls, one TLS connection.
func TestClientReusesConnections(t *testing.T) {
	var opened atomic.Int64
	b := startBroker(t, func(c *ServerConfig) {
		c.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				opened.Add(1)
			}
		}
	})
	for i := range 20 {
		if _, err := b.client.SessionCredentials(context.Background(), ports.SessionCredentialsInput{SessionID: "s-1"}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Fatalf("20 calls opened %d connections, want 1", n)
	}
}

// The broker id a client signs is its URL's host, lower case, without the
// port; a URL the client refuses has none.
func TestBrokerID(t *testing.T) {
	for raw, want := range map[string]string{
		"https://Sentinel.Example.com:8443/": "sentinel.example.com",
		"https://sentinel.example.com":       "sentinel.example.com",
		"http://127.0.0.1:8443":              "127.0.0.1",
		"http://[::1]:8443":                  "::1",
		"http://sentinel.example.com":        "",
		"ftp://sentinel.example.com":         "",
		"https://user@sentinel.example.com":  "",
	} {
		got, err := BrokerID(raw)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("BrokerID(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
}

// newBareHandler is a handler with no server around it, for its throttle.
func newBareHandler(t *testing.T) *handler {
	t.Helper()
	hh, err := NewHandler(Config{Service: &fakeService{}, Verifier: &fakeVerifier{}, Clock: ports.NewFakeClock(testInstant)})
	if err != nil {
		t.Fatal(err)
	}
	return hh.(*handler)
}

// TestThrottleHoldsBackAProofInFlightPastTheBudget: a proof already being
// checked needs no place of its own, but once the address's failures have
// spent the budget, more calls carrying it are refused too (each round of
// checking a refused proof is a fresh STS call).
func TestThrottleHoldsBackAProofInFlightPastTheBudget(t *testing.T) {
	h := newBareHandler(t)
	first := h.admit("192.0.2.1", "x")
	if again := h.admit("192.0.2.1", "x"); again == nil {
		t.Fatal("a second call carrying a proof in flight was refused with the budget full")
	} else {
		h.release("192.0.2.1", again, "x")
	}
	for range badProofBurst {
		h.failed(first)
	}
	if again := h.admit("192.0.2.1", "x"); again != nil {
		t.Fatal("a call carrying a proof in flight was admitted with the budget spent")
	}
	h.release("192.0.2.1", first, "x")
}

// TestCallersWhoLeaveAreCharged: a caller that hangs up while its proof is
// being checked is charged a failure (the check goes on and may reach STS),
// so forged proofs sent and abandoned one after another reach the verifier
// no more often than the burst allows.
func TestCallersWhoLeaveAreCharged(t *testing.T) {
	b := startBroker(t)
	b.verifier.hold = make(chan struct{})
	t.Cleanup(func() { close(b.verifier.hold) })
	for i := range 3 * badProofBurst {
		client := b.newClient(t, fmt.Sprintf("proof-v1.left-%d", i))
		ctx, cancel := context.WithCancel(context.Background())
		before := b.verifier.calls.Load()
		answered := make(chan error, 1)
		go func() {
			_, err := client.WhoAmI(ctx)
			answered <- err
		}()
		// Either the call reaches the verifier, and then its caller leaves,
		// or it is refused at once (429: ErrUnavailable, the context live).
		var err error
		deadline := time.Now().Add(10 * time.Second)
	wait:
		for {
			select {
			case err = <-answered:
				break wait
			default:
			}
			if b.verifier.calls.Load() > before {
				cancel()
				<-answered
				// The broker logs a call that left after charging it: wait
				// until every call that reached the verifier is logged.
				testkit.Eventually(t, 10*time.Second, "the broker to finish the calls that left", func() bool {
					return strings.Count(b.logs.String(), "verify caller") >= int(b.verifier.calls.Load())
				})
				break
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("call %d neither reached the verifier nor was answered", i)
			}
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err != nil && !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("call %d: %v, want a 429 (ErrUnavailable) or a caller that left", i, err)
		}
	}
	if got := b.verifier.calls.Load(); got > badProofBurst {
		t.Fatalf("verifier asked %d times for %d abandoned proofs, want at most %d", got, 3*badProofBurst, badProofBurst)
	}
}

// TestThrottleTableHoldsOnlyFailures: an address whose calls all passed is
// forgotten once none is under way; one that failed is remembered, and a
// state in use survives the table being cleared.
func TestThrottleTableHoldsOnlyFailures(t *testing.T) {
	h := newBareHandler(t)
	first := h.admit("192.0.2.1", "p")
	second := h.admit("192.0.2.1", "")
	h.release("192.0.2.1", first, "p")
	if _, ok := h.throttled["192.0.2.1"]; !ok {
		t.Fatal("an address was forgotten with a call still under way")
	}
	h.release("192.0.2.1", second, "")
	if len(h.throttled) != 0 {
		t.Fatalf("the table holds %d addresses after calls that all passed", len(h.throttled))
	}
	failing := h.admit("192.0.2.2", "q")
	h.failed(failing)
	h.release("192.0.2.2", failing, "q")
	if _, ok := h.throttled["192.0.2.2"]; !ok {
		t.Fatal("an address that failed was forgotten")
	}
	held := h.admit("192.0.2.3", "r")
	clear(h.throttled)
	again := h.admit("192.0.2.3", "r2")
	h.release("192.0.2.3", held, "r") // the old state: must not remove the new one
	if h.throttled["192.0.2.3"] != again {
		t.Fatal("releasing a state from before the table was cleared removed the new one")
	}
	h.release("192.0.2.3", again, "r2")
}
