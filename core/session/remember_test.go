package session

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// ackCheckFeed is a chanFeed that records, at the moment of each Ack,
// whether the tracker already remembered the revoke.
type ackCheckFeed struct {
	chanFeed
	tracker          *Tracker
	revokedAtAck     atomic.Bool
	ackedWithoutMemo atomic.Bool
}

func (f *ackCheckFeed) Ack(ctx context.Context, id string, version int64) error {
	if _, _, _, ok := f.tracker.Revoked(); ok {
		f.revokedAtAck.Store(true)
	} else {
		f.ackedWithoutMemo.Store(true)
	}
	return f.chanFeed.Ack(ctx, id, version)
}

// rememberRig is a running server's session: a tracker and a view wired to
// it, over a store the test can wipe.
type rememberRig struct {
	trackerRig
	view *View
	feed *ackCheckFeed
}

func startRemember(t *testing.T, viewCfg ViewConfig) rememberRig {
	t.Helper()
	r := startTracker(t, slowLoop)
	feed := &ackCheckFeed{chanFeed: chanFeed{ch: make(chan ports.FeedSignal, 1)}, tracker: r.tracker}
	viewCfg.Memory = r.tracker
	v := NewView(r.store, feed, r.clock, viewCfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done, err := v.Start(ctx, r.tracker.Session())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	feed.ch <- ports.FeedResumed
	waitFor(t, "trust", v.Trusted)
	return rememberRig{trackerRig: r, view: v, feed: feed}
}

// #11.1: the revoke is remembered before it is acknowledged, with no request
// in between, and survives the loss of the record: neither the view nor the
// heartbeat ever brings the session back as active.
func TestAnAcknowledgedRevokeSurvivesTheLossOfTheRecord(t *testing.T) {
	r := startRemember(t, ViewConfig{Resync: time.Hour})
	r.revoke(t, "secops", "stolen")
	r.feed.ch <- ports.FeedChanged
	waitFor(t, "ack", func() bool { return len(r.feed.acked()) == 1 })
	if !r.feed.revokedAtAck.Load() || r.feed.ackedWithoutMemo.Load() {
		t.Fatal("the revoke was acknowledged before the tracker remembered it")
	}

	r.store.wipe() // a Redis DEL, a removed bbolt file
	r.feed.ch <- ports.FeedChanged
	for range 3 {
		s, err := r.view.Current(context.Background())
		if err != nil || s.Status != ports.SessionRevoked || s.RevokedBy != "secops" {
			t.Fatalf("Current after the record vanished = %s by %q, %v; want the remembered revoke", s.Status, s.RevokedBy, err)
		}
	}
	r.clock.Advance(20 * time.Second)
	if err := r.tracker.Heartbeat(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the record written back", func() bool {
		_, err := r.store.GetSession(context.Background(), testID)
		return err == nil
	})
	if got := r.stored(t); got.Status != ports.SessionRevoked || got.RevokedBy != "secops" || got.RevokedReason != "stolen" {
		t.Fatalf("written back as %s (by %q: %q), want revoked by secops: stolen", got.Status, got.RevokedBy, got.RevokedReason)
	}
}

// An expiry read by the view is as final as a revoke: never written back active.
func TestAnExpiryReadByTheViewIsNeverWrittenBackActive(t *testing.T) {
	r := startRemember(t, ViewConfig{Resync: time.Hour})
	if _, err := UpdateWithRetry(context.Background(), r.store, testID, func(s ports.Session) (ports.Session, error) {
		return Expire(s, r.clock.Now())
	}); err != nil {
		t.Fatal(err)
	}
	r.feed.ch <- ports.FeedChanged
	waitFor(t, "ack", func() bool { return len(r.feed.acked()) == 1 })
	if !r.tracker.Expired() {
		t.Fatal("the tracker does not know the session expired")
	}
	r.store.wipe()
	r.tracker.Missing()
	waitFor(t, "the record written back", func() bool {
		_, err := r.store.GetSession(context.Background(), testID)
		return err == nil
	})
	if got := r.stored(t); got.Status != ports.SessionExpired {
		t.Fatalf("written back as %s, want expired", got.Status)
	}
}

// #18.1: a read that finds the record missing has it written back at once
// (not at the next heartbeat, an hour away here), once per resync interval
// however many reads find it missing, and the episode is logged once.
func TestAMissingRecordIsWrittenBackAtOnceAndLoggedOnce(t *testing.T) {
	r := startRemember(t, ViewConfig{Resync: time.Hour})
	creates := r.store.createCount()
	r.store.wipe()
	r.feed.ch <- ports.FeedChanged // as a Redis DEL is announced
	for range 50 {
		_, _ = r.view.Current(context.Background())
	}
	waitFor(t, "the record written back", func() bool {
		s, err := r.store.GetSession(context.Background(), testID)
		return err == nil && s.Status == ports.SessionActive
	})
	s, err := r.view.Current(context.Background())
	if err != nil || s.Status != ports.SessionActive {
		t.Fatalf("Current once the record is back = %s, %v; want active", s.Status, err)
	}

	// Lost again within the same resync interval: no second write-back yet.
	r.store.wipe()
	r.feed.ch <- ports.FeedChanged
	waitFor(t, "the view to stop trusting memory", func() bool { return !r.view.Trusted() })
	for range 20 {
		if _, err := r.view.Current(context.Background()); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("Current with the record gone = %v, want ErrNotFound", err)
		}
	}
	time.Sleep(20 * time.Millisecond) // give a wrong second write-back its chance
	if _, err := r.store.GetSession(context.Background(), testID); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("written back twice within one resync interval (%v)", err)
	}
	r.clock.Advance(DefaultResync)
	if _, err := r.view.Current(context.Background()); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("Current = %v, want ErrNotFound", err)
	}
	waitFor(t, "the second write-back", func() bool {
		_, err := r.store.GetSession(context.Background(), testID)
		return err == nil
	})
	if n := r.store.createCount() - creates; n != 2 {
		t.Errorf("%d write-backs for two losses, want 2", n)
	}
	logged := func() int { return strings.Count(r.logs.String(), "missing from the store; recreated it") }
	waitFor(t, "the second write-back logged", func() bool { return logged() >= 2 }) // logged just after it lands
	if n := logged(); n != 2 {
		t.Errorf("%d log lines for two episodes, want 2:\n%s", n, r.logs.String())
	}
}

// The memory store with the first read of the session answering "missing",
// as a record deleted and written back while a revoke is under way.
type flickerStore struct {
	ports.SessionStore
	misses atomic.Int64
}

func (f *flickerStore) GetSession(ctx context.Context, id string) (ports.Session, error) {
	if f.misses.Add(-1) >= 0 {
		return ports.Session{}, ports.ErrNotFound
	}
	return f.SessionStore.GetSession(ctx, id)
}

func TestRevokeByID(t *testing.T) {
	t.Run("an existing record is revoked", func(t *testing.T) {
		store, clock := newStore(t)
		if _, err := store.CreateSession(context.Background(), activeSession()); err != nil {
			t.Fatal(err)
		}
		s, restored, err := RevokeByID(context.Background(), store, testID, "secops", "stolen", clock)
		if err != nil || restored || s.Status != ports.SessionRevoked || s.User != "alice" || s.Version != 2 {
			t.Fatalf("RevokeByID = %+v, restored %v, %v; want the record revoked in place", s, restored, err)
		}
	})
	t.Run("a missing record is written revoked", func(t *testing.T) {
		store, clock := newStore(t)
		s, restored, err := RevokeByID(context.Background(), store, testID, "secops", "stolen", clock)
		if err != nil || !restored {
			t.Fatalf("RevokeByID = restored %v, %v; want a revoked record written", restored, err)
		}
		got, err := store.GetSession(context.Background(), testID)
		if err != nil || got.Status != ports.SessionRevoked || got.RevokedBy != "secops" || got.RevokedReason != "stolen" ||
			!got.RevokedAt.Equal(t0) || !reflect.DeepEqual(got, s) {
			t.Fatalf("stored %+v, %v; want revoked by secops at t0, as returned", got, err)
		}
		v := CheckRevocation(got, nil, StoreErrorAllow, clock.Now())
		if v.Outcome != OutcomeRevoked {
			t.Fatalf("a server reading it decides %s, want revoked", v.Outcome)
		}
	})
	t.Run("a record that comes back meanwhile is revoked as it is", func(t *testing.T) {
		mem, clock := newStore(t)
		if _, err := mem.CreateSession(context.Background(), activeSession()); err != nil {
			t.Fatal(err)
		}
		store := &flickerStore{SessionStore: mem}
		store.misses.Store(1)
		s, restored, err := RevokeByID(context.Background(), store, testID, "secops", "stolen", clock)
		if err != nil || restored || s.Status != ports.SessionRevoked || s.User != "alice" {
			t.Fatalf("RevokeByID = %+v, restored %v, %v; want the returned record revoked", s, restored, err)
		}
	})
	t.Run("an ended session is not revoked again", func(t *testing.T) {
		store, clock := newStore(t)
		if _, err := store.CreateSession(context.Background(), activeSession()); err != nil {
			t.Fatal(err)
		}
		revokeIn(t, store, clock)
		if _, _, err := RevokeByID(context.Background(), store, testID, "bob", "again", clock); !errors.Is(err, ports.ErrInvalidTransition) {
			t.Fatalf("RevokeByID of a revoked session = %v, want ErrInvalidTransition", err)
		}
	})
	t.Run("no reason writes nothing", func(t *testing.T) {
		store, clock := newStore(t)
		if _, _, err := RevokeByID(context.Background(), store, testID, "secops", " ", clock); !errors.Is(err, ports.ErrInvalidArgument) {
			t.Fatalf("RevokeByID without a reason = %v, want ErrInvalidArgument", err)
		}
		if _, err := store.GetSession(context.Background(), testID); !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("a record was written (%v)", err)
		}
	})
}
