package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/conformance"
	"github.com/sentinel-gw/sentinel/internal/redisproc"
	"github.com/sentinel-gw/sentinel/ports"
)

// TestConformanceCluster runs the whole suite against a real Redis Cluster
// of three masters. Each store's prefix hashes to a slot of its own, so the
// stores of the suite spread over the three masters; the feed's pub/sub and
// the revoker's acknowledgements cross nodes.
func TestConformanceCluster(t *testing.T) {
	cluster := redisproc.StartCluster(t)
	conformance.Run(t, func(t *testing.T, clock ports.Clock) conformance.Backend {
		opts := Options{
			Addr: cluster.Addrs[0], Cluster: true, Prefix: "cluster-" + newID(),
			ReadTimeout: testTimeout, WriteTimeout: testTimeout,
		}
		another := opts
		another.Addr = cluster.Addrs[2] // any node leads to the cluster
		return openedBackend(t, opts, another, clock)
	}, conformance.Features{
		SharedHandles: true, CorruptInjection: true, Feed: conformance.FeedPush,
		Waivers: map[string]string{"FeedGaps": "the cluster client dials each node at the address the cluster " +
			"announces, so no proxy sits on the subscription to cut it; the same feed code is cut and resumed " +
			"in TestConformance on one server"},
	})
}

// On a cluster, a revoker's Announce finds the server that follows the
// session whichever node the client would send a PUBLISH to: it waits for
// the acknowledgement (here none comes) and never says nobody follows. A
// PUBLISH counts only the subscribers of the node that takes it; sent to
// any node, two in three Announces said ErrNoListener.
func TestClusterAnnounceFindsTheFollower(t *testing.T) {
	cluster := redisproc.StartCluster(t)
	clock := ports.SystemClock{}
	for i := range 12 {
		opts := Options{Addr: cluster.Addrs[i%3], Cluster: true, Prefix: "cluster-" + newID(), ReadTimeout: testTimeout, WriteTimeout: testTimeout}
		server, revoker := openWith(t, opts, clock), openWith(t, opts, clock)
		sess, err := server.CreateSession(t.Context(), activeSession(newID(), "alice", clock.Now()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(t.Context())
		signals, err := server.Follow(ctx, sess)
		if err != nil {
			t.Fatal(err)
		}
		if sig := <-signals; sig != ports.FeedResumed {
			t.Fatalf("first signal %v, want FeedResumed", sig)
		}
		actx, cancel := context.WithTimeout(t.Context(), time.Second)
		err = revoker.Announce(actx, sess)
		cancel()
		stop()
		for range signals { // the follow loop ends with ctx
		}
		// A round trip the deadline cuts short may say ErrUnavailable, as in
		// the suite's AnnounceTimesOutWithoutAnAck.
		notConfirmed := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ports.ErrUnavailable)
		if errors.Is(err, ports.ErrNoListener) || !notConfirmed {
			t.Fatalf("store %d (prefix %s): Announce with a follower that does not acknowledge = %v; want DeadlineExceeded, never ErrNoListener",
				i, opts.Prefix, err)
		}
	}
}
