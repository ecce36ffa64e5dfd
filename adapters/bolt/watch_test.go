package bolt

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

const watchID = "0123456789abcdef0123456789abcdef"

// eachFlavour runs the test once for every feed flavour this OS can run
// (testedFlavours, per OS): on Linux both the abstract socket and the
// socket file that macOS uses.
func eachFlavour(t *testing.T, test func(t *testing.T, flavour feedFlavour)) {
	t.Helper()
	if len(testedFlavours) == 0 {
		t.Skip("no session feed on this platform; TestWithoutAFeed covers the polling fallback")
	}
	for _, flavour := range testedFlavours {
		t.Run(flavour.String(), func(t *testing.T) { test(t, flavour) })
	}
}

// twoHandles opens a server's and a revoker's handle on one file, as two
// sentinel processes would, with the session created and each instance unique.
func twoHandles(t *testing.T, flavour feedFlavour) (server, revoker *Store, sess ports.Session) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	return handlesOn(t, flavour, path, path)
}

// handlesOn opens the server's handle through serverPath and the revoker's
// through revokerPath (two names of one file, or the same name).
func handlesOn(t *testing.T, flavour feedFlavour, serverPath, revokerPath string) (server, revoker *Store, sess ports.Session) {
	t.Helper()
	clock := ports.NewFakeClock(testStart)
	var err error
	if server, err = Open(serverPath, clock, Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	if revoker, err = Open(revokerPath, clock, Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	server.feed.flavour, revoker.feed.flavour = flavour, flavour
	in := activeSession(watchID, "alice", testStart)
	in.ServerInstanceID = strings.ReplaceAll(t.Name(), "/", "-") // feed names are machine-wide
	return server, revoker, mustCreate(t, server, in)
}

func follow(t *testing.T, s *Store, sess ports.Session) <-chan ports.FeedSignal {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	signals, err := s.Follow(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		for range signals { // drain until the feed closes: no goroutine left behind
		}
	})
	if got := next(t, signals); got != ports.FeedResumed {
		t.Fatalf("first signal = %v, want FeedResumed", got)
	}
	return signals
}

func next(t *testing.T, signals <-chan ports.FeedSignal) ports.FeedSignal {
	t.Helper()
	select {
	case s := <-signals:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no feed signal within 5s")
		return 0
	}
}

func revokeVia(t *testing.T, s *Store, id string) ports.Session {
	t.Helper()
	got, err := session.UpdateWithRetry(t.Context(), s, id, func(cur ports.Session) (ports.Session, error) {
		return session.Revoke(cur, "secops", "stolen", testStart)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestAnnounceForAnotherSessionIsRefused(t *testing.T) {
	eachFlavour(t, func(t *testing.T, flavour feedFlavour) {
		server, revoker, sess := twoHandles(t, flavour)
		follow(t, server, sess)
		other := sess
		other.ID = strings.Repeat("f", 32)
		if err := revoker.Announce(t.Context(), other); err == nil || !strings.Contains(err.Error(), "not following") {
			t.Fatalf("err = %v", err)
		}
	})
}

// revokeAndAnnounce revokes id through revoker and announces it; the
// server's view must confirm within 5s.
func revokeAndAnnounce(t *testing.T, revoker *Store, id string) {
	t.Helper()
	revoked := revokeVia(t, revoker, id)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := revoker.Announce(ctx, revoked); err != nil {
		t.Fatalf("Announce: %v", err)
	}
}

// bbolt's listener answers a short ack by asking again (another
// FeedChanged), so a server whose re-read raced the write catches up; the
// conformance Feed group only pins that a short ack does not release the
// revoker.
func TestAShortAckIsAskedAgain(t *testing.T) {
	eachFlavour(t, func(t *testing.T, flavour feedFlavour) {
		server, revoker, sess := twoHandles(t, flavour)
		signals := follow(t, server, sess)
		revoked := revokeVia(t, revoker, sess.ID)
		announced := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			announced <- revoker.Announce(ctx, revoked)
		}()
		if got := next(t, signals); got != ports.FeedChanged {
			t.Fatalf("signal = %v, want FeedChanged", got)
		}
		if err := server.Ack(t.Context(), sess.ID, revoked.Version-1); err != nil {
			t.Fatal(err)
		}
		if got := next(t, signals); got != ports.FeedChanged {
			t.Fatalf("after a short ack, signal = %v, want another FeedChanged", got)
		}
		if err := server.Ack(t.Context(), sess.ID, revoked.Version); err != nil {
			t.Fatal(err)
		}
		if err := <-announced; err != nil {
			t.Fatalf("Announce: %v", err)
		}
	})
}
