package redisstore

import (
	"sync/atomic"
	"testing"

	"github.com/sentinel-gw/sentinel/conformance"
	"github.com/sentinel-gw/sentinel/internal/tcpproxy"
	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/ports"
)

func TestConformance(t *testing.T) {
	url := testenv.Redis(t)
	var corruptions atomic.Int64
	conformance.Run(t, func(t *testing.T, clock ports.Clock) conformance.Backend {
		prefix := newPrefix(t, url)
		// The server's handle goes through a proxy, so that BreakFeed can
		// cut its subscription and no other test's.
		opts := optionsFor(t, url, prefix)
		proxy := tcpproxy.New(t, opts.Addr)
		opts.Addr = proxy.Addr()
		store, err := Open(t.Context(), opts, clock)
		if err != nil {
			t.Fatalf("Open(prefix %s) through a proxy: %v", prefix, err)
		}
		t.Cleanup(func() { _ = store.Close() })
		return conformance.Backend{
			Store:       store,
			Approvals:   store,
			BreakGlass:  store,
			Locks:       store,
			OpenAnother: func(t *testing.T) ports.SessionStore { return openStore(t, url, prefix, clock) },
			PutCorruptRecord: func(t *testing.T, kind conformance.Kind, id string) {
				t.Helper()
				if kind == conformance.KindLock {
					putForeignLock(t, url, store, id)
					return
				}
				// Alternate the two ways foreign data shows: another Redis
				// type at the key, and a hash that is not our record.
				putForeign(t, url, recordKeyOf(t, store, kind, id), corruptKinds[corruptions.Add(1)%2])
			},
			// Redis drops the subscription while the server's socket stays
			// open: the feed hears nothing and must notice by itself.
			BreakFeed: func(t *testing.T, s ports.Session) func() {
				t.Helper()
				if n := proxy.Silence(tcpproxy.Contains("subscribe", store.feedChannel(s.ServerInstanceID))); n != 1 {
					t.Fatalf("BreakFeed: silenced %d subscriptions, want the server's 1", n)
				}
				return func() { proxy.Silence(nil) }
			},
		}
	}, conformance.Features{SharedHandles: true, CorruptInjection: true, Feed: conformance.FeedPush, FeedGaps: true})
}

// recordKeyOf is where the record of kind and id lives in store.
func recordKeyOf(t *testing.T, store *Store, kind conformance.Kind, id string) string {
	t.Helper()
	switch kind {
	case conformance.KindSession:
		return sessionKind.key(store, id)
	case conformance.KindRequest:
		return requestKind.key(store, id)
	case conformance.KindBreakGlass:
		return breakGlassKind.key(store, id)
	}
	t.Fatalf("the redis store holds no %s records", kind)
	return ""
}
