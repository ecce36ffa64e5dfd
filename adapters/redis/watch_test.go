package redisstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/internal/tcpproxy"
	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/ports"
)

// feedPair opens a server's and a revoker's store on one prefix, as two
// sentinel processes would, with the session created.
func feedPair(t *testing.T) (server, revoker *Store, sess ports.Session) {
	t.Helper()
	url := testenv.Redis(t)
	prefix := newPrefix(t, url)
	clock := ports.NewFakeClock(testStart)
	server, revoker = openStore(t, url, prefix, clock), openStore(t, url, prefix, clock)
	created, err := server.CreateSession(t.Context(), activeSession(newID(), "alice", testStart))
	if err != nil {
		t.Fatal(err)
	}
	return server, revoker, created
}

func followFeed(t *testing.T, s *Store, sess ports.Session) <-chan ports.FeedSignal {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	signals, err := s.Follow(ctx, sess)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		for range signals { // the loop has stopped once the channel closes
		}
	})
	if got := nextSignal(t, signals); got != ports.FeedResumed {
		t.Fatalf("first signal = %v, want FeedResumed", got)
	}
	return signals
}

func nextSignal(t *testing.T, signals <-chan ports.FeedSignal) ports.FeedSignal {
	t.Helper()
	select {
	case s := <-signals:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no feed signal within 10s")
		return 0
	}
}

func revokeIn(t *testing.T, s *Store, id string) ports.Session {
	t.Helper()
	got, err := session.UpdateWithRetry(t.Context(), s, id, func(cur ports.Session) (ports.Session, error) {
		return session.Revoke(cur, "secops", "stolen", testStart)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// A dropped subscription is a gap: FeedLost, then FeedResumed once go-redis
// has re-subscribed.
func TestFeedReportsALostSubscription(t *testing.T) {
	server, _, sess := feedPair(t)
	signals := followFeed(t, server, sess)
	raw := rawClient(t, testenv.Redis(t))
	defer raw.Close()
	// Kill only feed subscriptions (two channels each): the server may be shared.
	list, err := raw.ClientList(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " sub=2 ") {
			continue
		}
		for _, field := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(field, "id="); ok {
				if err := raw.Do(t.Context(), "CLIENT", "KILL", "ID", id).Err(); err == nil {
					killed++
				}
			}
		}
	}
	if killed == 0 {
		t.Fatalf("found no feed subscription to kill in:\n%s", list)
	}
	if got := nextSignal(t, signals); got != ports.FeedLost {
		t.Fatalf("after the kill, signal = %v, want FeedLost", got)
	}
	if got := nextSignal(t, signals); got != ports.FeedResumed {
		t.Fatalf("after reconnecting, signal = %v, want FeedResumed", got)
	}
}

// A subscription Redis dropped while the server's socket stays open (a
// half-closed connection: PUBLISH finds no subscriber, the server hears
// nothing) cannot show it is alive: its PINGs go unanswered, the feed
// reports FeedLost within feedQuiet of the last answer, and it is followed
// again on a new connection.
func TestFeedReportsASilentlyDroppedSubscription(t *testing.T) {
	url := testenv.Redis(t)
	prefix := newPrefix(t, url)
	clock := ports.NewFakeClock(testStart)
	opts := optionsFor(t, url, prefix)
	proxy := tcpproxy.New(t, opts.Addr)
	opts.Addr = proxy.Addr()
	server, err := Open(t.Context(), opts, clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	revoker := openStore(t, url, prefix, clock)
	sess, err := server.CreateSession(t.Context(), activeSession(newID(), "alice", testStart))
	if err != nil {
		t.Fatal(err)
	}
	signals := followFeed(t, server, sess)

	silenced := time.Now()
	if n := proxy.Silence(tcpproxy.Contains("subscribe", server.feedChannel(sess.ServerInstanceID))); n != 1 {
		t.Fatalf("silenced %d subscriptions, want the server's 1", n)
	}
	// Redis has dropped the subscriber: an announce finds no listener.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := revoker.Announce(t.Context(), sess)
		if errors.Is(err, ports.ErrNoListener) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Announce = %v, want ErrNoListener once Redis dropped the subscriber", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := nextSignal(t, signals); got != ports.FeedLost {
		t.Fatalf("after the silent drop, signal = %v, want FeedLost", got)
	}
	// Generous for a loaded machine; it was feedQuiet's old 3 s at best.
	if took := time.Since(silenced); took > 2*time.Second {
		t.Errorf("FeedLost came %s after the drop, want within about feedQuiet (%s)", took, feedQuiet)
	}
	proxy.Silence(nil) // the network heals: a new subscription gets through
	if got := nextSignal(t, signals); got != ports.FeedResumed {
		t.Fatalf("after the network healed, signal = %v, want FeedResumed", got)
	}
	revoked := revokeIn(t, revoker, sess.ID)
	announced := make(chan error, 1)
	go func() {
		actx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		announced <- revoker.Announce(actx, revoked)
	}()
	// The write's event and the announcement each ask for a re-read; the
	// server acknowledges each, as its view does, until the revoker is released.
	for {
		select {
		case err := <-announced:
			if err != nil {
				t.Fatalf("Announce over the new subscription: %v", err)
			}
			return
		case sig := <-signals:
			if sig != ports.FeedChanged {
				t.Fatalf("on the new subscription, signal = %v, want FeedChanged", sig)
			}
			if err := server.Ack(t.Context(), sess.ID, revoked.Version); err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no signal and no acknowledgement within 10s")
		}
	}
}
