package redisstore

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// TestMain runs the tests, terminates the test containers, and then fails
// the run if a goroutine (a feed subscription, a revoker waiting for its
// acknowledgement, a pool connection of an unclosed store) outlived them.
// It looks only after testenv.Main, which stops the containers it started.
func TestMain(m *testing.M) {
	code := testenv.Main(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testTimeout replaces the 1 s read default in tests: the suite's racing
// goroutines under -race on a loaded machine must not fail on a slow reply;
// fast failure has its own test.
const testTimeout = 10 * time.Second

// testStart is a whole microsecond, so boundary checks are exact.
var testStart = time.Date(2031, time.March, 14, 9, 26, 53, 589_793_000, time.UTC)

// newPrefix returns a fresh uuid-shaped prefix and deletes every key under
// it when t ends: tests share one server and touch only their own keys.
func newPrefix(t testing.TB, url string) string {
	t.Helper()
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	h := hex.EncodeToString(b)
	prefix := "sentinel-test-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	t.Cleanup(func() { testkit.DeleteRedisPrefix(t, url, prefix) })
	return prefix
}

// rawClient is a plain client on the test server, for writing foreign data
// and checking keys; the caller closes it.
func rawClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	opts.ReadTimeout = testTimeout
	return redis.NewClient(opts)
}

// optionsFor turns the test server's URL into Options for prefix.
func optionsFor(t testing.TB, url, prefix string) Options {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return Options{
		Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB, TLS: o.TLSConfig != nil,
		Prefix: prefix, ReadTimeout: testTimeout, WriteTimeout: testTimeout,
	}
}

// openStore opens a Store on prefix that is closed when t ends.
func openStore(t testing.TB, url, prefix string, clock ports.Clock) *Store {
	t.Helper()
	s, err := Open(t.Context(), optionsFor(t, url, prefix), clock)
	if err != nil {
		t.Fatalf("Open(prefix %s): %v", prefix, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// activeSession is a fully populated active session created at created.
func activeSession(id, user string, created time.Time) ports.Session {
	return ports.Session{
		ID: id, User: user, Profile: user + "-profile", ServerInstanceID: user + "-instance",
		Status: ports.SessionActive, IdentitySource: "sts",
		StartedAt: created, LastAccessAt: created, ExpiresAt: created.Add(time.Hour),
		RequestCount: 1, SourceIdentity: "sentinel:" + user,
		CreatedAt: created, UpdatedAt: created,
	}
}

// indexKey names a session index.
func (s *Store) indexKey(kind, value string) string {
	return sessionKind.indexBase(s) + kind + ":" + value
}

// pendingRequest is a fully populated pending request created at created,
// its decision deadline a day later.
func pendingRequest(id, requester string, created time.Time) ports.ApprovalRequest {
	return ports.ApprovalRequest{
		ID: id, Requester: requester, RequesterARN: "arn:aws:iam::111122223333:user/" + requester,
		Profile: requester + "-profile", Justification: "deploy the hotfix for " + requester,
		Duration: time.Hour, Status: ports.RequestPending,
		CreatedAt: created, UpdatedAt: created, ExpiresAt: created.Add(24 * time.Hour),
	}
}

// activeEvent is a fully populated active break-glass event created at
// created, running out an hour later.
func activeEvent(id, invoker, profile string, created time.Time) ports.BreakGlassEvent {
	return ports.BreakGlassEvent{
		ID: id, Invoker: invoker, InvokerARN: "arn:aws:iam::111122223333:user/" + invoker,
		Profile: profile, ReasonCode: "incident", Justification: "the primary database refuses connections",
		Duration: time.Hour, Status: ports.BreakGlassActive, Escalated: true,
		CreatedAt: created, UpdatedAt: created, ExpiresAt: created.Add(time.Hour),
	}
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
