package httpserver

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sentinel-gw/sentinel/ports"
)

// TestMain fails the run if any goroutine (server, connection, SDK client)
// outlives its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeIssuer stands in for the core's pipeline. It is not a server: the
// server under test is real.
type fakeIssuer struct {
	mu     sync.Mutex
	creds  ports.Credentials
	err    error
	ids    []string
	called atomic.Int64
}

func (f *fakeIssuer) Issue(_ context.Context, requestID string) (ports.Credentials, error) {
	f.called.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = append(f.ids, requestID)
	return f.creds, f.err
}

func (f *fakeIssuer) set(c ports.Credentials, err error) {
	f.mu.Lock()
	f.creds, f.err = c, err
	f.mu.Unlock()
}

func (f *fakeIssuer) requestIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ids...)
}

// Values a test can search the logs for. They look like real AWS keys so a
// leak would be unmistakable.
var testCreds = ports.Credentials{
	AccessKeyID:     "ASIATESTACCESSKEY0001",
	SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY1",
	SessionToken:    "FwoGZXIvYXdzEXAMPLESESSIONTOKEN+/=abcdefghijklmnopqrstuvwxyz0123456789",
	Expires:         time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
}

// syncBuffer collects log output from concurrent handlers.
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

// startServer starts a real server on a free port, with a fresh token unless
// cfg has one, and shuts it down when the test ends.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Token == "" {
		token, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Token = token
	}
	if cfg.Issuer == nil {
		cfg.Issuer = &fakeIssuer{creds: testCreds}
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// newClient is a plain HTTP client whose idle connections are closed when the
// test ends, so goleak sees no lingering connection goroutines.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
