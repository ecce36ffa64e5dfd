package session

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// ackingStore records the confirmations a polling view writes through
// ports.ReadAcknowledger, as the DynamoDB adapter stores them in the record.
type ackingStore struct {
	ports.SessionStore
	mu   sync.Mutex
	acks []int64
}

func (a *ackingStore) AckRead(_ context.Context, _ string, version int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.acks = append(a.acks, version)
	return nil
}

func (a *ackingStore) acked() []int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int64(nil), a.acks...)
}

// Without a feed, the server confirms a revoke through the store once it
// has read it, and confirms nothing while the session is active.
func TestViewPollModeConfirmsTheEndThroughTheStore(t *testing.T) {
	mem, clock := newStore(t)
	if _, err := mem.CreateSession(context.Background(), activeSession()); err != nil {
		t.Fatal(err)
	}
	store := &ackingStore{SessionStore: mem}
	v := NewView(store, nil, clock, ViewConfig{Poll: 2 * time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done, err := v.Start(ctx, activeSession())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	// Touches bump the version of an active session: none is confirmed.
	for range 5 {
		if _, err := mem.TouchSession(ctx, testID, clock.Now(), 1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := store.acked(); len(got) != 0 {
		t.Fatalf("confirmed active versions %v; only an end is confirmed", got)
	}
	revoked := revokeIn(t, mem, clock)
	waitFor(t, "the revoke confirmed", func() bool { return len(store.acked()) > 0 })
	time.Sleep(20 * time.Millisecond) // more polls: the same version is not confirmed again
	if got := store.acked(); len(got) != 1 || got[0] != revoked.Version {
		t.Fatalf("confirmed %v, want once [%d]", got, revoked.Version)
	}
	clock.Advance(time.Hour) // whatever the copy's age, the revoke is served
	if s, err := v.Current(ctx); err != nil || s.Status != ports.SessionRevoked {
		t.Fatalf("after confirming, Current = %v, %v; want revoked", s.Status, err)
	}
}

// With a whole feed, memory is trusted only while the read behind it is
// younger than two resync intervals: a stalled resync loop never stretches
// the bound a revoker without confirmation waits out.
func TestViewWholeFeedStopsTrustingAStaleCopy(t *testing.T) {
	feed := &chanFeed{ch: make(chan ports.FeedSignal, 1)}
	v, store, clock := startView(t, feed, ViewConfig{Resync: time.Second}) // the fake clock moves; the ticker does not fire in time
	feed.ch <- ports.FeedResumed
	waitFor(t, "trust", v.Trusted)
	revokeIn(t, store.SessionStore, clock) // nobody announces it: a feed that lost the message
	clock.Advance(time.Second)
	if s, _ := v.Current(context.Background()); s.Status != ports.SessionActive {
		t.Fatalf("a copy younger than two resyncs was re-read: %s", s.Status)
	}
	clock.Advance(time.Second + time.Millisecond)
	if s, err := v.Current(context.Background()); err != nil || s.Status != ports.SessionRevoked {
		t.Fatalf("a copy older than two resyncs was served: %v, %v", s.Status, err)
	}
}

// A copy is as old as the start of the read that filled it: a slow read
// does not make an old copy look new.
func TestViewAgesACopyFromTheStartOfItsRead(t *testing.T) {
	mem, clock := newStore(t)
	if _, err := mem.CreateSession(context.Background(), activeSession()); err != nil {
		t.Fatal(err)
	}
	store := &gatedStore{SessionStore: mem, entered: make(chan struct{}, 16), gate: make(chan struct{})}
	const poll = time.Second
	v := NewView(store, nil, clock, ViewConfig{Poll: poll}, nil)
	v.id, v.polling = testID, true // no background loop: the test drives every read

	first := make(chan ports.Session, 1)
	go func() { s, _ := v.Current(context.Background()); first <- s }()
	<-store.entered
	clock.Advance(3 * poll / 2) // the read takes a poll and a half
	close(store.gate)
	<-first
	clock.Advance(poll / 2) // two polls since the read started, half a poll since it landed
	before := store.gets.Load()
	go func() { <-store.entered }()
	if _, err := v.Current(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.gets.Load() == before {
		t.Fatal("served a copy whose read started two polls ago")
	}
}

func TestRereadBoundFollowsTheRecordedPoll(t *testing.T) {
	tests := []struct {
		name string
		poll time.Duration
		want time.Duration
	}{
		{"not recorded: the default poll, under the resync bound", 0, 2*DefaultResync + rereadSlack},
		{"the default poll", DefaultPoll, 2*DefaultResync + rereadSlack},
		{"a slow poll sets the bound", 700 * time.Millisecond, 1400*time.Millisecond + rereadSlack},
		{"the cap", MaxPoll, 2*MaxPoll + rereadSlack},
	}
	for _, tc := range tests {
		if got := RereadBound(ports.Session{RevocationPoll: tc.poll}); got != tc.want {
			t.Errorf("%s: RereadBound = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestCheckPoll(t *testing.T) {
	for _, ok := range []time.Duration{time.Millisecond, DefaultPoll, MaxPoll} {
		if err := CheckPoll(ok); err != nil {
			t.Errorf("CheckPoll(%s) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []time.Duration{0, -time.Millisecond, MaxPoll + time.Nanosecond, time.Minute} {
		if err := CheckPoll(bad); err == nil {
			t.Errorf("CheckPoll(%s) = nil, want an error", bad)
		}
	}
}
