package bolt

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/conformance"
	"github.com/sentinel-gw/sentinel/ports"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, backendWith(flavourHost), featuresWith(flavourHost))
}

// TestFeedFlavours runs the conformance suite's Feed group on every other
// feed flavour this OS can run (on Linux the socket file macOS uses);
// TestConformance runs it on the host's own.
func TestFeedFlavours(t *testing.T) {
	for _, flavour := range testedFlavours {
		if flavour == hostFlavour {
			continue
		}
		t.Run(flavour.String(), func(t *testing.T) {
			conformance.RunFeed(t, backendWith(flavour), featuresWith(flavour))
		})
	}
}

// featuresWith is what the store guarantees when its feed is flavour.
func featuresWith(flavour feedFlavour) conformance.Features {
	f := conformance.Features{
		SharedHandles: true, CorruptInjection: true, Feed: conformance.FeedPush,
		Waivers: map[string]string{
			"FeedGaps": "a local socket has no standing connection to lose: each announce dials anew " +
				"(a socket file removed under the server ends its feed: TestSocketFileRemovedUnderTheServerEndsTheFeed)",
		},
	}
	if (flavour == flavourHost && hostFlavour == flavourNone) || flavour == flavourNone {
		f.Feed = conformance.FeedNone
		f.Waivers["Feed"] = "no session feed on this platform: the server polls the store (TestWithoutAFeed)"
	}
	return f
}

// backendWith opens stores whose session feed is flavour.
func backendWith(flavour feedFlavour) conformance.Factory {
	return func(t *testing.T, clock ports.Clock) conformance.Backend {
		path := filepath.Join(t.TempDir(), "sessions.db")
		open := func(t *testing.T) *Store {
			t.Helper()
			s := openForTest(t, path, clock)
			s.feed.flavour = flavour
			return s
		}
		store := open(t)
		return conformance.Backend{
			Store:       store,
			Approvals:   store,
			BreakGlass:  store,
			Locks:       store,
			OpenAnother: func(t *testing.T) ports.SessionStore { return open(t) },
			PutCorruptRecord: func(t *testing.T, kind conformance.Kind, id string) {
				t.Helper()
				bucket, ok := corruptBuckets[kind]
				if !ok {
					t.Fatalf("PutCorruptRecord: unknown kind %q", kind)
				}
				if err := store.putRawForTest(bucket, id, []byte(`{"v":1,"`+string(kind)+`":{"id":`)); err != nil {
					t.Fatalf("putRawForTest(%s %s): %v", kind, id, err)
				}
			},
		}
	}
}

// corruptBuckets is where each kind of record lives.
var corruptBuckets = map[conformance.Kind][]byte{
	conformance.KindSession:    bucketSessions,
	conformance.KindRequest:    bucketRequests,
	conformance.KindBreakGlass: bucketBreakGlass,
	conformance.KindLock:       bucketLocks,
}

// testLockTimeout replaces the 2 s default in tests. The suite's racing
// goroutines (16 at once) queue for one file, and under -race on a loaded
// machine the queue alone has exceeded 2 s; lock timeouts have their own tests.
const testLockTimeout = 30 * time.Second

// openForTest opens a store on path that is closed when t ends. NoSync keeps
// the suite fast; fsync changes nothing a test can observe.
func openForTest(t *testing.T, path string, clock ports.Clock) *Store {
	t.Helper()
	s, err := Open(path, clock, Options{LockTimeout: testLockTimeout, NoSync: true})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
