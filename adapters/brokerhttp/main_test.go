package brokerhttp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// TestMain fails the run if any goroutine (listener, connection, client)
// outlives its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Values a test can search the logs for: the proof and the credentials must
// never appear there.
const (
	testProof  = "proof-v1.c2lnbmVkIEdldENhbGxlcklkZW50aXR5IHJlcXVlc3Q="
	adminProof = "proof-v1.YWRtaW4gc2lnbmVkIHJlcXVlc3Q="
	downProof  = "proof-v1.c3RzIGRvd24="
)

var (
	testCaller  = ports.Identity{ARN: "arn:aws:iam::123456789012:user/alice", Name: "alice", Source: "sts"}
	testAdmin   = ports.Identity{ARN: "arn:aws:iam::123456789012:user/root-admin", Name: "root-admin", Source: "sts"}
	testCreds   = ports.Credentials{AccessKeyID: "ASIATESTACCESSKEY0001", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY1", SessionToken: "FwoGZXIvYXdzEXAMPLESESSIONTOKEN+/=abcdef", Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	testInstant = time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
)

// fakeVerifier knows two proofs; downProof plays STS unreachable; any
// other proof is refused as a stale signature would be. It recalls the
// proofs it has verified (ports.CallerRecaller), as the STS verifier's
// cache does, and holds every Verify while hold is open (until the
// caller's context ends, as the STS verifier answers a caller that left).
type fakeVerifier struct {
	calls atomic.Int64
	hold  chan struct{}
	known sync.Map // proof -> ports.Identity
}

func (v *fakeVerifier) Recall(proof string) (ports.Identity, bool) {
	id, ok := v.known.Load(proof)
	if !ok {
		return ports.Identity{}, false
	}
	return id.(ports.Identity), true
}

func (v *fakeVerifier) Verify(ctx context.Context, proof string) (ports.Identity, error) {
	v.calls.Add(1)
	if v.hold != nil {
		select {
		case <-v.hold:
		case <-ctx.Done():
			return ports.Identity{}, fmt.Errorf("verify: %w: %w", ctx.Err(), ports.ErrUnavailable)
		}
	}
	switch proof {
	case testProof:
		v.known.Store(proof, testCaller)
		return testCaller, nil
	case adminProof:
		v.known.Store(proof, testAdmin)
		return testAdmin, nil
	case downProof:
		return ports.Identity{}, fmt.Errorf("verify: ask sts.amazonaws.com: dial tcp: i/o timeout: %w", ports.ErrUnavailable)
	}
	return ports.Identity{}, fmt.Errorf("the signature is older than 5 minutes: check the clock: %w", ports.ErrUnauthenticated)
}

// staticSigner returns one proof.
type staticSigner string

func (s staticSigner) Proof(context.Context) (string, error) { return string(s), nil }

// fakeService is a small BrokerService: each answer echoes its input and
// the caller, so a round trip shows both crossed the wire. err, when set,
// is every operation's answer; hold, when set, blocks SessionCredentials.
type fakeService struct {
	mu       sync.Mutex
	err      error
	readyErr error
	hold     chan struct{}
	entered  chan struct{}
	calls    []string
	lastID   string
}

func (f *fakeService) note(op string, caller ports.Identity, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op+" by "+caller.Name)
	f.lastID = id
	return f.err
}

func (f *fakeService) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeService) last() (call, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return "", ""
	}
	return f.calls[len(f.calls)-1], f.lastID
}

func (f *fakeService) session(caller ports.Identity, id, profile string) ports.Session {
	return ports.Session{ID: id, User: caller.Name, UserARN: caller.ARN, Profile: profile, Status: ports.SessionActive, StartedAt: testInstant, Version: 3}
}

func (f *fakeService) WhoAmI(_ context.Context, c ports.Identity) (ports.Identity, error) {
	return c, f.note("whoami", c, "")
}

func (f *fakeService) OpenSession(_ context.Context, c ports.Identity, in ports.OpenSessionInput) (ports.OpenSessionOutput, error) {
	return ports.OpenSessionOutput{Session: f.session(c, "s-new", in.Profile), Heartbeat: in.Duration / 2, Lease: in.RevocationPoll, Warning: "warn " + in.Profile},
		f.note("open", c, "")
}

func (f *fakeService) Heartbeat(_ context.Context, c ports.Identity, id string) (ports.Session, error) {
	return f.session(c, id, "hb"), f.note("heartbeat", c, id)
}

func (f *fakeService) CloseSession(_ context.Context, c ports.Identity, id string) error {
	return f.note("close", c, id)
}

func (f *fakeService) SessionCredentials(ctx context.Context, c ports.Identity, in ports.SessionCredentialsInput) (ports.Credentials, error) {
	if f.hold != nil {
		f.entered <- struct{}{}
		select {
		case <-f.hold:
		case <-ctx.Done():
			return ports.Credentials{}, ctx.Err()
		}
	}
	creds := testCreds
	creds.Origin = ports.CredentialOrigin{PassThrough: true}
	return creds, f.note("credentials", c, in.SessionID+"/"+in.RequestID)
}

func (f *fakeService) OneShot(_ context.Context, c ports.Identity, in ports.OneShotInput) (ports.Credentials, error) {
	return testCreds, f.note("oneshot", c, in.Profile+"/"+in.Mode+"/"+in.Duration.String())
}

func (f *fakeService) ListSessions(_ context.Context, c ports.Identity, in ports.ListSessionsInput) (ports.SessionPage, error) {
	return ports.SessionPage{Sessions: []ports.Session{f.session(c, "s1", in.Profile)}, Next: in.Cursor + "+1"},
		f.note("list-sessions", c, fmt.Sprintf("%s/%s/%s/%d", in.Status, in.User, in.Since, in.Limit))
}

func (f *fakeService) ShowSession(_ context.Context, c ports.Identity, id string) (ports.Session, error) {
	return f.session(c, id, "shown"), f.note("show-session", c, id)
}

func (f *fakeService) Revoke(_ context.Context, c ports.Identity, in ports.RevokeInput) (ports.RevokeOutput, error) {
	return ports.RevokeOutput{Revoked: []ports.Session{f.session(c, in.ID, in.Profile)}, Failed: []string{in.Reason}},
		f.note("revoke", c, in.ID)
}

func (f *fakeService) request(c ports.Identity, id, profile string) ports.ApprovalRequest {
	return ports.ApprovalRequest{ID: id, Requester: c.Name, RequesterARN: c.ARN, Profile: profile, Status: ports.RequestPending, CreatedAt: testInstant, Duration: time.Hour}
}

func (f *fakeService) CreateRequest(_ context.Context, c ports.Identity, in ports.RequestInput) (ports.RequestOutput, error) {
	r := f.request(c, "r-new", in.Profile)
	r.Justification, r.Duration = in.Justification, in.Duration
	return ports.RequestOutput{Request: r, Notified: ports.Notified{Warnings: []string{"webhook slow"}}}, f.note("create-request", c, "")
}

func (f *fakeService) DecideRequest(_ context.Context, c ports.Identity, in ports.DecideInput) (ports.RequestOutput, error) {
	return ports.RequestOutput{Request: f.request(c, in.ID, in.Comment)}, f.note("decide", c, fmt.Sprintf("%s/%v", in.ID, in.Approve))
}

func (f *fakeService) CancelRequest(_ context.Context, c ports.Identity, id string) (ports.RequestOutput, error) {
	return ports.RequestOutput{Request: f.request(c, id, "cancelled")}, f.note("cancel", c, id)
}

func (f *fakeService) ListRequests(_ context.Context, c ports.Identity, in ports.ListRequestsInput) ([]ports.ApprovalRequest, error) {
	return []ports.ApprovalRequest{f.request(c, "r1", in.Profile), f.request(c, "r2", in.Profile)},
		f.note("list-requests", c, fmt.Sprintf("%s/%s/%d", in.Status, in.Requester, in.Limit))
}

func (f *fakeService) ShowRequest(_ context.Context, c ports.Identity, id string) (ports.ApprovalRequest, error) {
	return f.request(c, id, "shown"), f.note("show-request", c, id)
}

func (f *fakeService) event(c ports.Identity, id, profile string) ports.BreakGlassEvent {
	return ports.BreakGlassEvent{ID: id, Invoker: c.Name, InvokerARN: c.ARN, Profile: profile, ReasonCode: "incident", CreatedAt: testInstant, Duration: time.Hour}
}

func (f *fakeService) OpenBreakGlass(_ context.Context, c ports.Identity, in ports.BreakGlassInput) (ports.BreakGlassOutput, error) {
	e := f.event(c, "e-new", in.Profile)
	e.ReasonCode, e.Justification, e.Duration = in.ReasonCode, in.Justification, in.Duration
	return ports.BreakGlassOutput{Event: e}, f.note("open-breakglass", c, "")
}

func (f *fakeService) CloseBreakGlass(_ context.Context, c ports.Identity, in ports.CloseBreakGlassInput) (ports.BreakGlassOutput, error) {
	e := f.event(c, in.ID, "closed")
	e.Justification = in.Reason
	return ports.BreakGlassOutput{Event: e}, f.note("close-breakglass", c, in.ID)
}

func (f *fakeService) ListBreakGlass(_ context.Context, c ports.Identity, in ports.ListBreakGlassInput) ([]ports.BreakGlassEvent, error) {
	return []ports.BreakGlassEvent{f.event(c, "e1", in.Profile)}, f.note("list-breakglass", c, fmt.Sprintf("%s/%s/%d", in.Status, in.Invoker, in.Limit))
}

func (f *fakeService) ShowBreakGlass(_ context.Context, c ports.Identity, id string) (ports.BreakGlassEvent, error) {
	return f.event(c, id, "shown"), f.note("show-breakglass", c, id)
}

func (f *fakeService) Ready(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readyErr
}

// newTestLogger logs everything, debug included, as text.
func newTestLogger(w *testkit.LockedBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testCert writes a self-signed certificate for 127.0.0.1 and localhost
// and returns the certificate and key paths (the certificate is its own CA).
func testCert(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sentinel broker test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// broker is a running TLS broker on loopback with its fakes and a client.
type broker struct {
	srv      *Server
	svc      *fakeService
	verifier *fakeVerifier
	clock    *ports.FakeClock
	logs     *testkit.LockedBuffer
	client   *Client
	caFile   string
	// raw is an HTTPS client trusting the test certificate, for requests
	// the Client would never send.
	raw *http.Client
}

type brokerOption func(*ServerConfig)

func startBroker(t testing.TB, opts ...brokerOption) *broker {
	t.Helper()
	certFile, keyFile := testCert(t)
	b := &broker{svc: &fakeService{}, verifier: &fakeVerifier{}, clock: ports.NewFakeClock(testInstant), logs: &testkit.LockedBuffer{}, caFile: certFile}
	logger := newTestLogger(b.logs)
	h, err := NewHandler(Config{Service: b.svc, Verifier: b.verifier, Logger: logger, Clock: b.clock})
	if err != nil {
		t.Fatal(err)
	}
	cfg := ServerConfig{Listen: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile, Handler: h, Logger: logger}
	for _, o := range opts {
		o(&cfg)
	}
	b.srv, err = Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.srv.Shutdown(context.Background()) })
	b.client = b.newClient(t, testProof)
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	b.raw = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	return b
}

// newClient is a Client as the CLI builds it: the broker's URL and --broker-ca.
func (b *broker) newClient(t testing.TB, proof string) *Client {
	t.Helper()
	c, err := NewClient(ClientConfig{URL: b.srv.URL(), Signer: staticSigner(proof), CAFile: b.caFile, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.http.CloseIdleConnections)
	return c
}

// post sends a raw request to the broker.
func (b *broker) post(t testing.TB, method, path, contentType, auth string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := b.raw.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, out.Bytes()
}
