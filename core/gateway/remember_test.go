package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// wipeableStore is the memory store, which a test can empty at once, as a
// Redis DEL or a removed bbolt file would.
type wipeableStore struct {
	mu    sync.Mutex
	clock ports.Clock
	*memory.Store
}

func (w *wipeableStore) inner() *memory.Store {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Store
}

func (w *wipeableStore) wipe() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.Store = memory.New(w.clock)
}

func (w *wipeableStore) CreateSession(ctx context.Context, s ports.Session) (ports.Session, error) {
	return w.inner().CreateSession(ctx, s)
}

func (w *wipeableStore) GetSession(ctx context.Context, id string) (ports.Session, error) {
	return w.inner().GetSession(ctx, id)
}

func (w *wipeableStore) UpdateSession(ctx context.Context, s ports.Session) (ports.Session, error) {
	return w.inner().UpdateSession(ctx, s)
}

func (w *wipeableStore) TouchSession(ctx context.Context, id string, at time.Time, n int64) (ports.Session, error) {
	return w.inner().TouchSession(ctx, id, at, n)
}

// testFeed is a session feed the test drives (the adapters' feeds have their
// own tests); acks are counted.
type testFeed struct {
	ch   chan ports.FeedSignal
	mu   sync.Mutex
	acks int
}

func (f *testFeed) Follow(context.Context, ports.Session) (<-chan ports.FeedSignal, error) {
	return f.ch, nil
}

func (f *testFeed) Ack(context.Context, string, int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acks++
	return nil
}

func (f *testFeed) acked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.acks
}

// gatedSource is STS answering slowly: each call waits for release.
type gatedSource struct {
	countingSource
	entered chan struct{}
	release chan struct{}
}

func (g *gatedSource) Credentials(ctx context.Context, req ports.CredentialRequest) (ports.Credentials, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.countingSource.Credentials(ctx, req)
}

// server is a running server's pipeline as exec wires it: tracker, view
// reporting to the tracker, gateway, over a store the test can wipe.
type server struct {
	clock   *ports.FakeClock
	store   *wipeableStore
	feed    *testFeed
	tracker *session.Tracker
	view    *session.View
	gw      *gateway.Gateway
	sid     string
	logs    *lockedLog
}

type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func startServer(t *testing.T, onStoreError session.StoreErrorPolicy, source ports.CredentialProvider) *server {
	t.Helper()
	clock := ports.NewFakeClock(t0)
	s := &server{clock: clock, store: &wipeableStore{clock: clock, Store: memory.New(clock)},
		feed: &testFeed{ch: make(chan ports.FeedSignal, 1)}, logs: &lockedLog{}}
	logger := slog.New(slog.NewTextHandler(s.logs, nil))
	s.sid, _ = record.NewID()
	s.tracker = session.NewTracker(s.store, clock, session.TrackerConfig{HeartbeatInterval: time.Hour, Lease: 3 * time.Hour, TouchFlushInterval: time.Hour}, logger)
	started, err := s.tracker.Start(context.Background(), ports.Session{ID: s.sid, User: "alice", Profile: "prod", Status: ports.SessionActive, StartedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.tracker.Stop(context.Background()) })
	s.view = session.NewView(s.store, s.feed, clock, session.ViewConfig{Resync: time.Hour, Memory: s.tracker}, logger)
	ctx, cancel := context.WithCancel(context.Background())
	done, err := s.view.Start(ctx, started)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	s.feed.ch <- ports.FeedResumed
	waitUntil(t, "the view to trust its memory", s.view.Trusted)
	s.gw = gateway.New(
		gateway.Config{Profile: "prod", Identity: ports.Identity{Name: "alice", Source: "os"}, SessionID: s.sid, Duration: 15 * time.Minute, OnStoreError: onStoreError},
		gateway.Deps{Policy: policyOf(t, allowAll), Source: source, Clock: clock, Sessions: s.store, View: s.view, Tracker: s.tracker, Logger: logger})
	return s
}

func policyOf(t *testing.T, doc string) *staticPolicy {
	p := &staticPolicy{}
	p.set(t, doc)
	return p
}

func (s *server) revoke(t *testing.T) {
	t.Helper()
	if _, err := session.UpdateWithRetry(context.Background(), s.store, s.sid, func(r ports.Session) (ports.Session, error) {
		return session.Revoke(r, "secops", "laptop stolen", s.clock.Now())
	}); err != nil {
		t.Fatal(err)
	}
}

// announce is what server-revoke does on a store with a feed: tell the
// server and wait for its acknowledgement.
func (s *server) announce(t *testing.T) {
	t.Helper()
	before := s.feed.acked()
	s.feed.ch <- ports.FeedChanged
	waitUntil(t, "the acknowledgement", func() bool { return s.feed.acked() > before })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// #11.3: a request already past the revocation check, waiting on STS when
// the revoke is acknowledged, does not get the credentials STS then returns.
func TestARevokeAcknowledgedDuringTheSourceCallIsRefused(t *testing.T) {
	clock := ports.NewFakeClock(t0)
	source := &gatedSource{countingSource: countingSource{clock: clock, ttl: time.Hour},
		entered: make(chan struct{}, 1), release: make(chan struct{})}
	s := startServer(t, session.StoreErrorAllow, source)
	type answer struct {
		creds ports.Credentials
		err   error
	}
	got := make(chan answer, 1)
	go func() {
		c, err := s.gw.Issue(context.Background(), "r1")
		got <- answer{c, err}
	}()
	<-source.entered // past the revocation check, STS is answering
	s.revoke(t)
	s.announce(t)
	close(source.release)
	a := <-got
	var revoked *gateway.RevokedError
	if !errors.As(a.err, &revoked) || revoked.By != "secops" {
		t.Fatalf("Issue = %v, %v; want the revoke acknowledged while STS answered", a.creds.AccessKeyID, a.err)
	}
	if a.creds.AccessKeyID != "" || a.creds.SecretAccessKey != "" {
		t.Fatal("credentials returned along with the refusal")
	}
}

// #11.1 at the gateway: the revoke acknowledged with no request in between
// is refused after the record is lost, and the record comes back revoked.
func TestARevokeAcknowledgedThenLostWithTheRecordIsRefused(t *testing.T) {
	for _, policy := range []session.StoreErrorPolicy{session.StoreErrorAllow, session.StoreErrorDeny} {
		t.Run(string(policy), func(t *testing.T) {
			s := startServer(t, policy, &countingSource{clock: ports.NewFakeClock(t0), ttl: time.Hour})
			s.revoke(t)
			s.announce(t)
			s.store.wipe()
			s.feed.ch <- ports.FeedChanged // the deletion, announced
			for i := range 5 {
				var revoked *gateway.RevokedError
				if _, err := s.gw.Issue(context.Background(), "r"); !errors.As(err, &revoked) {
					t.Fatalf("request %d after the record vanished: %v, want the remembered revoke", i, err)
				}
			}
			waitUntil(t, "the record written back", func() bool {
				r, err := s.store.GetSession(context.Background(), s.sid)
				return err == nil && r.Status == ports.SessionRevoked
			})
		})
	}
}

// #18.1: a missing record is a store fault. Under deny it is refused until
// the record is back; under allow it is served; either way the server writes
// it back at once (the heartbeat is an hour away here), at most once per
// resync interval however many requests find it missing, with one log line
// per write-back.
func TestAMissingRecordFollowsTheStoreErrorPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy session.StoreErrorPolicy
		served bool
	}{{session.StoreErrorAllow, true}, {session.StoreErrorDeny, false}} {
		t.Run(string(tc.policy), func(t *testing.T) {
			s := startServer(t, tc.policy, &countingSource{clock: ports.NewFakeClock(t0), ttl: time.Hour})
			written := func() bool {
				r, err := s.store.GetSession(context.Background(), s.sid)
				return err == nil && r.Status == ports.SessionActive
			}
			s.store.wipe()
			s.feed.ch <- ports.FeedChanged // the deletion, announced
			waitUntil(t, "the record written back", written)

			// Lost again at once, and again before every request: within one
			// resync interval there is no second write-back.
			for i := range 100 {
				s.store.wipe()
				_, err := s.gw.Issue(context.Background(), "r")
				var storeErr *gateway.StoreError
				switch {
				case tc.served && err != nil:
					t.Fatalf("request %d with the record missing under allow: %v, want served", i, err)
				case !tc.served && (!errors.As(err, &storeErr) || !storeErr.Missing):
					t.Fatalf("request %d with the record missing under deny: %v, want refused as missing", i, err)
				case !tc.served && !strings.Contains(err.Error(), "session record missing from the store"):
					t.Fatalf("refusal %q does not say the record is missing", err)
				}
			}
			time.Sleep(20 * time.Millisecond) // give a wrong write-back its chance
			if written() {
				t.Fatal("written back twice within one resync interval")
			}
			// One resync interval on, the next request's read has it written back.
			s.clock.Advance(session.DefaultResync)
			_, _ = s.gw.Issue(context.Background(), "r")
			waitUntil(t, "the second write-back", written)
			if _, err := s.gw.Issue(context.Background(), "r"); err != nil {
				t.Fatalf("request once the record is back: %v", err)
			}
			logged := func() int { return strings.Count(s.logs.String(), "missing from the store; recreated it") }
			waitUntil(t, "the second write-back logged", func() bool { return logged() >= 2 }) // logged just after it lands
			if n := logged(); n != 2 {
				t.Errorf("%d log lines about the missing record over 100 requests and 2 write-backs, want 2:\n%s", n, s.logs.String())
			}
		})
	}
}
