package bolt

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/conformance"
	"github.com/sentinel-gw/sentinel/ports"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T, clock ports.Clock) conformance.Backend {
		path := filepath.Join(t.TempDir(), "sessions.db")
		store := openForTest(t, path, clock)
		return conformance.Backend{
			Store:       store,
			Approvals:   store,
			BreakGlass:  store,
			Locks:       store,
			OpenAnother: func(t *testing.T) ports.SessionStore { return openForTest(t, path, clock) },
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
	}, conformance.Features{SharedHandles: true, CorruptInjection: true})
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
