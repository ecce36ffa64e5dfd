package redisstore

import (
	"sync/atomic"
	"testing"

	"github.com/sentinel-gw/sentinel/conformance"
	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/ports"
)

func TestConformance(t *testing.T) {
	url := testenv.Redis(t)
	var corruptions atomic.Int64
	conformance.Run(t, func(t *testing.T, clock ports.Clock) conformance.Backend {
		prefix := newPrefix(t, url)
		store := openStore(t, url, prefix, clock)
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
		}
	}, conformance.Features{SharedHandles: true, CorruptInjection: true})
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
