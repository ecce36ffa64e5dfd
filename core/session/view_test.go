package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// countingStore counts GetSession calls and can fail them.
type countingStore struct {
	ports.SessionStore
	gets atomic.Int64
	fail atomic.Bool
}

func (c *countingStore) GetSession(ctx context.Context, id string) (ports.Session, error) {
	c.gets.Add(1)
	if c.fail.Load() {
		return ports.Session{}, errors.New("connection refused")
	}
	return c.SessionStore.GetSession(ctx, id)
}

// chanFeed is a SessionFeed driven by the test: it stands in for the
// adapters' sockets and pub/sub, which have their own tests.
type chanFeed struct {
	ch   chan ports.FeedSignal
	mu   sync.Mutex
	acks []int64
}

func (f *chanFeed) Follow(context.Context, ports.Session) (<-chan ports.FeedSignal, error) {
	return f.ch, nil
}

func (f *chanFeed) Ack(_ context.Context, _ string, version int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acks = append(f.acks, version)
	return nil
}

func (f *chanFeed) acked() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.acks...)
}

func startView(t *testing.T, feed ports.SessionFeed, cfg ViewConfig) (*View, *countingStore, *ports.FakeClock) {
	t.Helper()
	mem, clock := newStore(t)
	if _, err := mem.CreateSession(context.Background(), activeSession()); err != nil {
		t.Fatal(err)
	}
	store := &countingStore{SessionStore: mem}
	v := NewView(store, feed, clock, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done, err := v.Start(ctx, activeSession())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	return v, store, clock
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func revokeIn(t *testing.T, store ports.SessionStore, clock ports.Clock) ports.Session {
	t.Helper()
	s, err := UpdateWithRetry(context.Background(), store, testID, func(s ports.Session) (ports.Session, error) {
		return Revoke(s, "secops", "stolen", clock.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestViewServesFromMemoryWhileTheFeedIsWhole(t *testing.T) {
	feed := &chanFeed{ch: make(chan ports.FeedSignal, 1)}
	v, store, _ := startView(t, feed, ViewConfig{Resync: time.Hour})
	feed.ch <- ports.FeedResumed
	waitFor(t, "trust", v.Trusted)
	before := store.gets.Load()
	for range 100 {
		if s, err := v.Current(context.Background()); err != nil || s.Status != ports.SessionActive {
			t.Fatalf("Current = %v, %v", s.Status, err)
		}
	}
	if n := store.gets.Load() - before; n != 0 {
		t.Fatalf("%d store reads for 100 requests with a whole feed, want 0", n)
	}
}

// The revoker's guarantee: once the server acknowledged, the next request sees the revoke.
func TestViewReadsAnAnnouncedChangeBeforeAcknowledging(t *testing.T) {
	feed := &chanFeed{ch: make(chan ports.FeedSignal, 1)}
	v, store, clock := startView(t, feed, ViewConfig{Resync: time.Hour})
	feed.ch <- ports.FeedResumed
	waitFor(t, "trust", v.Trusted)
	revoked := revokeIn(t, store.SessionStore, clock)
	feed.ch <- ports.FeedChanged
	waitFor(t, "ack", func() bool { return len(feed.acked()) == 1 })
	if got := feed.acked()[0]; got != revoked.Version {
		t.Fatalf("acked version %d, want %d", got, revoked.Version)
	}
	s, err := v.Current(context.Background())
	if err != nil || s.Status != ports.SessionRevoked {
		t.Fatalf("after the ack Current = %v, %v; want revoked", s.Status, err)
	}
}

func TestViewReadsTheStoreOnEveryRequestDuringAGap(t *testing.T) {
	feed := &chanFeed{ch: make(chan ports.FeedSignal, 1)}
	v, store, clock := startView(t, feed, ViewConfig{Resync: time.Hour})
	feed.ch <- ports.FeedResumed
	waitFor(t, "trust", v.Trusted)
	feed.ch <- ports.FeedLost
	waitFor(t, "distrust", func() bool { return !v.Trusted() })
	// A revoke nobody announced (the feed is down) is still seen at once.
	revokeIn(t, store.SessionStore, clock)
	before := store.gets.Load()
	s, err := v.Current(context.Background())
	if err != nil || s.Status != ports.SessionRevoked {
		t.Fatalf("during a gap Current = %v, %v; want the store's revoke", s.Status, err)
	}
	if store.gets.Load() == before {
		t.Fatal("no store read during a feed gap")
	}
	// Resumed: re-read, then trust again.
	feed.ch <- ports.FeedResumed
	waitFor(t, "trust again", v.Trusted)
}

func TestViewStopsTrustingWhenTheStoreFails(t *testing.T) {
	feed := &chanFeed{ch: make(chan ports.FeedSignal, 1)}
	v, store, _ := startView(t, feed, ViewConfig{Resync: time.Hour})
	feed.ch <- ports.FeedResumed
	waitFor(t, "trust", v.Trusted)
	store.fail.Store(true)
	feed.ch <- ports.FeedChanged // a change we cannot read
	waitFor(t, "distrust", func() bool { return !v.Trusted() })
	if _, err := v.Current(context.Background()); err == nil {
		t.Fatal("served memory although a change could not be read")
	}
	if len(feed.acked()) != 0 {
		t.Fatal("acknowledged a change it never read")
	}
}

func TestViewPollModeBoundsStaleness(t *testing.T) {
	v, store, clock := startView(t, nil, ViewConfig{Poll: time.Hour}) // the ticker never fires in this test
	if _, err := v.Current(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := store.gets.Load()
	if _, err := v.Current(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.gets.Load() != before {
		t.Fatal("a fresh copy was re-read")
	}
	revokeIn(t, store.SessionStore, clock)
	clock.Advance(2 * time.Hour) // older than two polls
	s, err := v.Current(context.Background())
	if err != nil || s.Status != ports.SessionRevoked {
		t.Fatalf("a stale copy was served: %v, %v", s.Status, err)
	}
}

func TestNewerKeepsEndsAcrossRecreatedRecords(t *testing.T) {
	active := activeSession()
	active.Version = 40
	recreated := activeSession()
	recreated.Version = 1
	recreatedRevoked := activeSession()
	recreatedRevoked.Version, recreatedRevoked.Status = 2, ports.SessionRevoked
	tests := []struct {
		name      string
		read, cur ports.Session
		want      bool
	}{
		{"a later read", ports.Session{Version: 41, Status: ports.SessionActive}, active, true},
		{"a record recreated after loss (version 1)", recreated, active, true},
		{"a revoke with a restarted version", recreatedRevoked, active, true},
		{"an active read never replaces a revoke", active, recreatedRevoked, false},
	}
	for _, tc := range tests {
		if got := newer(tc.read, tc.cur); got != tc.want {
			t.Errorf("%s: newer = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// gatedStore holds the answers of GetSession until the test opens the gate.
type gatedStore struct {
	ports.SessionStore
	gets    atomic.Int64
	entered chan struct{}
	gate    chan struct{}
}

// GetSession reads at once, then holds the answer: a slow round trip.
func (g *gatedStore) GetSession(ctx context.Context, id string) (ports.Session, error) {
	g.gets.Add(1)
	s, err := g.SessionStore.GetSession(ctx, id)
	g.entered <- struct{}{}
	<-g.gate
	return s, err
}

// Reads are shared, but never one that started before the caller arrived:
// that read could predate a revoke the caller must see.
func TestViewSharesOnlyReadsThatStartedAfterTheCaller(t *testing.T) {
	mem, clock := newStore(t)
	if _, err := mem.CreateSession(context.Background(), activeSession()); err != nil {
		t.Fatal(err)
	}
	store := &gatedStore{SessionStore: mem, entered: make(chan struct{}, 16), gate: make(chan struct{})}
	v := NewView(store, nil, clock, ViewConfig{Poll: time.Hour}, nil)
	v.id = testID // no background loop: the test drives every read

	early := make(chan ports.Session, 1)
	go func() { s, _ := v.Current(context.Background()); early <- s }()
	<-store.entered // the first read is in flight, still seeing an active session
	revokeIn(t, mem, clock)

	const late = 8
	results := make(chan ports.Session, late)
	for range late {
		go func() { s, _ := v.Current(context.Background()); results <- s }()
	}
	time.Sleep(50 * time.Millisecond) // let them all queue behind the first read
	close(store.gate)
	if s := <-early; s.Status != ports.SessionActive {
		t.Fatalf("the early caller got %s; its read predates the revoke", s.Status)
	}
	for range late {
		if s := <-results; s.Status != ports.SessionRevoked {
			t.Fatalf("a caller that arrived after the revoke got %s", s.Status)
		}
	}
	if n := store.gets.Load(); n != 2 {
		t.Fatalf("%d store reads for 1+%d callers, want 2 (the late ones share one)", n, late)
	}
}

// BenchmarkViewCurrent is the revocation check on the hot path with a whole
// feed: memory only, no store read.
func BenchmarkViewCurrent(b *testing.B) {
	mem, clock := newStoreB(b)
	if _, err := mem.CreateSession(context.Background(), activeSession()); err != nil {
		b.Fatal(err)
	}
	feed := &chanFeed{ch: make(chan ports.FeedSignal, 1)}
	store := &countingStore{SessionStore: mem}
	v := NewView(store, feed, clock, ViewConfig{Resync: time.Hour}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done, _ := v.Start(ctx, activeSession())
	defer func() { cancel(); <-done }()
	feed.ch <- ports.FeedResumed
	for !v.Trusted() {
		time.Sleep(time.Millisecond)
	}
	reads := store.gets.Load()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Current(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	if store.gets.Load() != reads {
		b.Fatal("the trusted view read the store")
	}
}

// A feed that resumes while the store still fails gets trust back from the
// first resync read that succeeds, not only from the next FeedResumed.
func TestViewTrustsAgainOnceTheResumeReadSucceeds(t *testing.T) {
	feed := &chanFeed{ch: make(chan ports.FeedSignal, 1)}
	v, store, _ := startView(t, feed, ViewConfig{Resync: 5 * time.Millisecond})
	feed.ch <- ports.FeedResumed
	waitFor(t, "trust", v.Trusted)
	feed.ch <- ports.FeedLost
	waitFor(t, "distrust", func() bool { return !v.Trusted() })
	store.fail.Store(true)
	feed.ch <- ports.FeedResumed // its re-read fails
	time.Sleep(30 * time.Millisecond)
	if v.Trusted() {
		t.Fatal("trusted memory although no read succeeded since the feed resumed")
	}
	store.fail.Store(false)
	waitFor(t, "trust after a good resync read", v.Trusted)
}

// Every caller's wait is bounded, an earlier slow flight included.
func TestViewBoundsTheWaitBehindASlowRead(t *testing.T) {
	mem, clock := newStore(t)
	if _, err := mem.CreateSession(context.Background(), activeSession()); err != nil {
		t.Fatal(err)
	}
	store := &gatedStore{SessionStore: mem, entered: make(chan struct{}, 16), gate: make(chan struct{})}
	defer close(store.gate)
	v := NewView(store, nil, clock, ViewConfig{Poll: time.Hour}, nil)
	v.id = testID
	go func() { _, _ = v.Current(context.Background()) }()
	<-store.entered // a read hangs
	start := time.Now()
	_, err := v.Current(context.Background())
	if err == nil {
		t.Fatal("a caller behind a hung read got an answer")
	}
	if took := time.Since(start); took > readTimeout+500*time.Millisecond {
		t.Fatalf("the caller waited %v, more than the %v bound", took, readTimeout)
	}
}

// A record seen corrupt stays refused until a read shows it sound: a later
// timeout must not let fail-open serve it.
func TestViewKeepsACorruptRecordRefusedThroughTimeouts(t *testing.T) {
	mem, clock := newStore(t)
	if _, err := mem.CreateSession(context.Background(), activeSession()); err != nil {
		t.Fatal(err)
	}
	store := &scriptedStore{SessionStore: mem}
	v := NewView(store, nil, clock, ViewConfig{Poll: time.Hour}, nil)
	v.id = testID
	store.err = fmt.Errorf("stored session: unknown schema: %w", ports.ErrCorrupt)
	if _, err := v.Current(context.Background()); !errors.Is(err, ports.ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	store.err = context.DeadlineExceeded
	if _, err := v.Current(context.Background()); !errors.Is(err, ports.ErrCorrupt) {
		t.Fatalf("after a timeout err = %v, want the record still corrupt", err)
	}
	store.err = nil
	if s, err := v.Current(context.Background()); err != nil || s.Status != ports.SessionActive {
		t.Fatalf("a sound read: %v, %v", s.Status, err)
	}
}

// scriptedStore answers GetSession with err when set.
type scriptedStore struct {
	ports.SessionStore
	err error
}

func (s *scriptedStore) GetSession(ctx context.Context, id string) (ports.Session, error) {
	if s.err != nil {
		return ports.Session{}, s.err
	}
	return s.SessionStore.GetSession(ctx, id)
}
