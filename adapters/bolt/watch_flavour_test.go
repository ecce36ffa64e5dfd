package bolt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// startView starts a server-side view of sess on store, trusting the feed.
func startView(t *testing.T, store *Store, sess ports.Session, cfg session.ViewConfig, clock ports.Clock) *session.View {
	t.Helper()
	view := session.NewView(store, store, clock, cfg, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done, err := view.Start(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	return view
}

func waitTrusted(t *testing.T, view *session.View) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !view.Trusted() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !view.Trusted() {
		t.Fatal("the view never trusted the feed")
	}
}

// The server opened the store through a symlink and the revoker by the real
// path (issue #11.2): the two must meet on one feed, so the revoke is
// confirmed, and no check that starts after Announce returns is answered
// from the old memory copy.
func TestFeedMeetsWhateverPathNamesTheFile(t *testing.T) {
	eachFlavour(t, func(t *testing.T, flavour feedFlavour) {
		dir := t.TempDir()
		real := filepath.Join(dir, "real", "s.db")
		if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link.db")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		// The file must exist before the link can be followed.
		if _, err := Open(real, ports.NewFakeClock(testStart), Options{NoSync: true}); err != nil {
			t.Fatal(err)
		}
		server, revoker, sess := handlesOn(t, flavour, link, real)
		view := startView(t, server, sess, session.ViewConfig{Resync: time.Hour, Poll: time.Hour}, ports.NewFakeClock(testStart))
		waitTrusted(t, view)

		// Requests keep arriving while the revoke runs; each notes whether
		// Announce had returned before it started.
		var returned atomic.Bool
		var servedAfter, checksAfter atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					after := returned.Load()
					got, err := view.Current(context.Background())
					if !after {
						continue
					}
					checksAfter.Add(1)
					if err == nil && got.Status != ports.SessionRevoked {
						servedAfter.Add(1)
					}
				}
			})
		}
		revoked := revokeVia(t, revoker, sess.ID)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		err := revoker.Announce(ctx, revoked)
		returned.Store(true)
		time.Sleep(20 * time.Millisecond)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("Announce through the real path to a server on the symlink: %v (want a confirmation)", err)
		}
		if checksAfter.Load() == 0 {
			t.Fatal("no check ran after Announce returned; the test proved nothing")
		}
		if n := servedAfter.Load(); n > 0 {
			t.Fatalf("%d of %d checks that started after Announce returned saw the session active", n, checksAfter.Load())
		}
	})
}

// A hard link and a relative path name the same file too.
func TestFeedKeyIsTheFilesIdentity(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(filepath.Join(dir, "a.db"), ports.NewFakeClock(testStart), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a.Path(), filepath.Join(dir, "hard.db")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	same, err := Open("hard.db", ports.NewFakeClock(testStart), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(filepath.Join(dir, "b.db"), ports.NewFakeClock(testStart), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	key := func(s *Store, instance string) string {
		k, err := s.feedKey(instance)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	if key(a, "i1") != key(same, "i1") {
		t.Error("a hard link through a relative path gives another feed name")
	}
	if key(a, "i1") == key(other, "i1") {
		t.Error("two files give one feed name")
	}
	if key(a, "i1") == key(a, "i2") {
		t.Error("two server instances give one feed name")
	}
}

// Without a feed (Windows), Follow fails so the server polls, Announce
// finds no listener at once (server-revoke then waits out the polling
// bound), and a check after that bound reads the revoke from the store.
func TestWithoutAFeed(t *testing.T) {
	server, revoker, sess := twoHandles(t, flavourNone)
	if _, err := server.Follow(t.Context(), sess); !errors.Is(err, errNoFeed) {
		t.Fatalf("Follow without a feed: err = %v, want errNoFeed", err)
	}
	clock := ports.NewFakeClock(testStart)
	view := startView(t, server, sess, session.ViewConfig{Resync: time.Hour, Poll: time.Hour}, clock)
	if _, err := view.Current(t.Context()); err != nil {
		t.Fatal(err)
	}
	if view.Trusted() {
		t.Fatal("a view without a feed trusts its memory")
	}
	revoked := revokeVia(t, revoker, sess.ID)
	if err := revoker.Announce(t.Context(), revoked); !errors.Is(err, ports.ErrNoListener) {
		t.Fatalf("Announce without a feed: err = %v, want ErrNoListener", err)
	}
	clock.Advance(2 * time.Hour) // the polling bound, twice the poll interval, has passed
	if got, err := view.Current(t.Context()); err != nil || got.Status != ports.SessionRevoked {
		t.Fatalf("after the polling bound, Current = %v, %v; want revoked", got.Status, err)
	}
}
