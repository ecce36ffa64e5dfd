package conformance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// FeedMode is how a backend confirms to a revoker that the running server
// of a session has read its change (Features.Feed).
type FeedMode int

// The feed modes.
const (
	// FeedNone: no confirmation at all; the Feed group skips (or fails
	// under CI) unless waived.
	FeedNone FeedMode = iota
	// FeedPush: the store is a ports.SessionFeed and a ports.ChangeAnnouncer
	// (bbolt, Redis): the server follows its session, the revoker announces
	// and waits for the server's Ack.
	FeedPush
	// FeedPoll: the server polls the store and confirms through the record
	// (ports.ReadAcknowledger, DynamoDB); the revoker's Announce waits for
	// that acknowledgement. Announce cannot tell that nobody listens, and
	// there is no feed to lose.
	FeedPoll
)

func (m FeedMode) String() string {
	switch m {
	case FeedPush:
		return "push"
	case FeedPoll:
		return "poll"
	default:
		return "none"
	}
}

// feedWait bounds every wait for a signal or an acknowledgement; generous
// for a loaded machine.
const feedWait = 10 * time.Second

// feedEnv is one Feed test's server and revoker: two handles on one
// namespace, as two sentinel processes would have, and the session created.
type feedEnv struct {
	env
	mode    FeedMode
	revoker ports.SessionStore
	sess    ports.Session
}

// openFeed opens the server's handle (Backend.Store) and the revoker's
// (Backend.OpenAnother), checking that they implement what the mode needs.
func (s suite) openFeed(t *testing.T) feedEnv {
	t.Helper()
	s.require(t, "Feed", s.features.Feed != FeedNone)
	e := s.open(t)
	if e.backend.OpenAnother == nil {
		t.Fatal("Features.Feed is set but Backend.OpenAnother is nil: the Feed tests revoke from a second handle")
	}
	f := feedEnv{env: e, mode: s.features.Feed, revoker: e.backend.OpenAnother(t)}
	if _, ok := f.revoker.(ports.ChangeAnnouncer); !ok {
		t.Fatalf("Features.Feed is %v but the second handle is not a ports.ChangeAnnouncer", f.mode)
	}
	switch f.mode {
	case FeedPush:
		if _, ok := e.store.(ports.SessionFeed); !ok {
			t.Fatal("Features.Feed is push but the store is not a ports.SessionFeed")
		}
	case FeedPoll:
		if _, ok := e.store.(ports.ReadAcknowledger); !ok {
			t.Fatal("Features.Feed is poll but the store is not a ports.ReadAcknowledger")
		}
	}
	f.sess = e.create(t, e.newSession())
	return f
}

// follow starts the server's feed for the session and waits for its first
// FeedResumed; the feed stops, and its channel is drained, when t ends.
func (f feedEnv) follow(t *testing.T) <-chan ports.FeedSignal {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	signals, err := f.store.(ports.SessionFeed).Follow(ctx, f.sess)
	if err != nil {
		cancel()
		t.Fatalf("Follow: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		for range signals { // the feed has stopped once the channel closes
		}
	})
	if got := nextSignal(t, signals); got != ports.FeedResumed {
		t.Fatalf("first signal = %v, want FeedResumed", got)
	}
	return signals
}

// ack is the server's confirmation that it has read version: the feed's Ack
// or, in poll mode, the record's AckRead.
func (f feedEnv) ack(t *testing.T, version int64) {
	t.Helper()
	var err error
	if f.mode == FeedPoll {
		err = f.store.(ports.ReadAcknowledger).AckRead(t.Context(), f.sess.ID, version)
	} else {
		err = f.store.(ports.SessionFeed).Ack(t.Context(), f.sess.ID, version)
	}
	if err != nil {
		t.Fatalf("acknowledging version %d: %v", version, err)
	}
}

// revoke revokes the session through the revoker's handle, as the core does.
func (f feedEnv) revoke(t *testing.T) ports.Session {
	t.Helper()
	got, err := revokeWithRetry(t.Context(), f.revoker, f.sess.ID, f.ns+"-secops", f.clock.Now())
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	return got
}

// announce starts the revoker's Announce of s; its result arrives on the
// channel.
func (f feedEnv) announce(t *testing.T, s ports.Session, within time.Duration) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		done <- f.revoker.(ports.ChangeAnnouncer).Announce(ctx, s)
	}()
	return done
}

func nextSignal(t *testing.T, signals <-chan ports.FeedSignal) ports.FeedSignal {
	t.Helper()
	select {
	case s, ok := <-signals:
		if !ok {
			t.Fatal("the feed closed its channel while the test still follows")
		}
		return s
	case <-time.After(feedWait):
		t.Fatalf("no feed signal within %s", feedWait)
		return 0
	}
}

// notReturned fails t when the announce has returned within a short wait.
func notReturned(t *testing.T, announced <-chan error, what string) {
	t.Helper()
	select {
	case err := <-announced:
		t.Fatalf("Announce returned %s: %v", what, err)
	case <-time.After(150 * time.Millisecond):
	}
}

// testFeed checks how a revoker learns that the running server has read a
// change: announce, acknowledge, a missing listener, no acknowledgement,
// the server's view, and a feed that is lost and comes back.
func (s suite) testFeed(t *testing.T) {
	t.Run("AnnounceWaitsForTheAck", s.testFeedAnnounceWaitsForTheAck)
	t.Run("AnnounceWithoutAListener", s.testFeedWithoutAListener)
	t.Run("AnnounceTimesOutWithoutAnAck", s.testFeedTimesOut)
	t.Run("ViewSeesAnAnnouncedRevoke", s.testFeedView)
	t.Run("LostAndResumed", s.testFeedLostAndResumed)
}

// A revoker's Announce returns only once the server has acknowledged the
// announced version; an acknowledgement of an older version does not
// release it.
func (s suite) testFeedAnnounceWaitsForTheAck(t *testing.T) {
	t.Parallel()
	f := s.openFeed(t)
	var signals <-chan ports.FeedSignal
	if f.mode == FeedPush {
		signals = f.follow(t)
	}
	ended := f.revoke(t)
	announced := f.announce(t, ended, feedWait)
	if signals != nil {
		if got := nextSignal(t, signals); got != ports.FeedChanged {
			t.Fatalf("signal = %v, want FeedChanged", got)
		}
	}
	notReturned(t, announced, "before any acknowledgement")
	f.ack(t, ended.Version-1)
	if signals != nil {
		// A backend may ask again after a short ack; those signals are not
		// what this test is about.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-signals:
				case <-stop:
					return
				}
			}
		}()
	}
	notReturned(t, announced, "after an acknowledgement of an older version")
	f.ack(t, ended.Version)
	select {
	case err := <-announced:
		if err != nil {
			t.Fatalf("Announce after the acknowledgement: %v", err)
		}
	case <-time.After(feedWait + time.Second):
		t.Fatal("Announce did not return after the acknowledgement")
	}
}

// With no server following the session, Announce says so at once
// (ErrNoListener) rather than waiting out its context.
func (s suite) testFeedWithoutAListener(t *testing.T) {
	t.Parallel()
	if s.features.Feed == FeedPoll {
		t.Skip("poll mode: nobody listens, so Announce cannot tell a missing server from a slow one; it waits for the record's acknowledgement")
	}
	f := s.openFeed(t)
	select {
	case err := <-f.announce(t, f.sess, feedWait):
		if !errors.Is(err, ports.ErrNoListener) {
			t.Fatalf("Announce with nobody following = %v, want ErrNoListener", err)
		}
	case <-time.After(feedWait + time.Second):
		t.Fatal("Announce with nobody following did not return")
	}
}

// A server that follows but never acknowledges leaves the revoker with an
// error wrapping context.DeadlineExceeded when its context ends, never a
// confirmation and never ErrNoListener. A store round trip that the
// deadline cuts short may instead say ErrUnavailable (Redis on a loaded
// machine): either way the revoker is told it is not confirmed.
func (s suite) testFeedTimesOut(t *testing.T) {
	t.Parallel()
	f := s.openFeed(t)
	if f.mode == FeedPush {
		f.follow(t)
	}
	ended := f.revoke(t)
	err := <-f.announce(t, ended, 300*time.Millisecond)
	notConfirmed := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ports.ErrUnavailable)
	if err == nil || errors.Is(err, ports.ErrNoListener) || !notConfirmed {
		t.Fatalf("Announce with no acknowledgement = %v, want an error wrapping context.DeadlineExceeded (or ErrUnavailable)", err)
	}
}

// The whole path: the server's session view follows the feed and trusts
// memory; a revoke is announced from the other handle; once Announce
// returns, the very next check on the server sees the revoke.
func (s suite) testFeedView(t *testing.T) {
	t.Parallel()
	if s.features.Feed == FeedPoll {
		t.Skip("poll mode: the view reads the store on its poll bound and confirms through the record; the ReadAck group covers the record")
	}
	f := s.openFeed(t)
	view := session.NewView(f.store, f.store.(ports.SessionFeed), f.clock, session.ViewConfig{Resync: time.Hour}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done, err := view.Start(ctx, f.sess)
	if err != nil {
		cancel()
		t.Fatalf("View.Start: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(feedWait)
	for !view.Trusted() {
		if time.Now().After(deadline) {
			t.Fatalf("the view did not trust the feed within %s", feedWait)
		}
		time.Sleep(time.Millisecond)
	}
	ended := f.revoke(t)
	if err := <-f.announce(t, ended, feedWait); err != nil {
		t.Fatalf("Announce: %v", err)
	}
	if got, err := view.Current(t.Context()); err != nil || got.Status != ports.SessionRevoked {
		t.Fatalf("right after Announce returned, Current = %v, %v; want the revoke", got.Status, err)
	}
}

// A feed that is cut is a gap the server must hear of (FeedLost: read the
// store on every request); once the way is open again the feed follows anew
// (FeedResumed), and an announce over it is acknowledged.
func (s suite) testFeedLostAndResumed(t *testing.T) {
	t.Parallel()
	s.require(t, "FeedGaps", s.features.FeedGaps)
	f := s.openFeed(t)
	if f.backend.BreakFeed == nil {
		t.Fatal("Features.FeedGaps is set but Backend.BreakFeed is nil")
	}
	signals := f.follow(t)
	heal := f.backend.BreakFeed(t, f.sess)
	if got := nextSignal(t, signals); got != ports.FeedLost {
		t.Fatalf("after the feed was cut, signal = %v, want FeedLost", got)
	}
	heal()
	if got := nextSignal(t, signals); got != ports.FeedResumed {
		t.Fatalf("after the way opened again, signal = %v, want FeedResumed", got)
	}
	ended := f.revoke(t)
	announced := f.announce(t, ended, feedWait)
	// The write and the announcement may each ask for a re-read; the server
	// acknowledges each, as its view does, until the revoker is released.
	for {
		select {
		case err := <-announced:
			if err != nil {
				t.Fatalf("Announce over the resumed feed: %v", err)
			}
			return
		case sig := <-signals:
			if sig != ports.FeedChanged {
				t.Fatalf("on the resumed feed, signal = %v, want FeedChanged", sig)
			}
			f.ack(t, ended.Version)
		case <-time.After(feedWait + time.Second):
			t.Fatal("no signal and no acknowledgement on the resumed feed")
		}
	}
}
