package conformance

import (
	"errors"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/ports"
)

func (s suite) testSharedHandles(t *testing.T) {
	t.Run("SeeEachOthersWrites", func(t *testing.T) {
		t.Parallel()
		s.require(t, "SharedHandles", s.features.SharedHandles)
		e := s.open(t)
		if e.backend.OpenAnother == nil {
			t.Fatal("Features.SharedHandles is set but Backend.OpenAnother is nil")
		}
		other := e.backend.OpenAnother(t)
		if other == nil {
			t.Fatal("OpenAnother returned a nil store")
		}

		created := e.create(t, e.newSession())
		expectSession(t, "GetSession through the other handle", created, mustGet(t, other, created.ID))
		_, err := other.CreateSession(t.Context(), created)
		expectErr(t, "CreateSession of the same id through the other handle", err, ports.ErrAlreadyExists)

		touched, err := e.store.TouchSession(t.Context(), created.ID, e.clock.Now(), 4)
		if err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		expectSession(t, "GetSession through the other handle after a touch", touched, mustGet(t, other, created.ID))

		// A revoke from another process (server-revoke) must reach the
		// running server on its very next read: no cache may hide it.
		rev, err := other.UpdateSession(t.Context(), revoked(touched, e.ns+"-admin", e.clock.Now()))
		if err != nil {
			t.Fatalf("revoke through the other handle: %v", err)
		}
		expectSession(t, "GetSession through the first handle right after the other revoked", rev, e.get(t, created.ID))
		_, err = e.store.UpdateSession(t.Context(), touched)
		expectErr(t, "UpdateSession through the first handle from before the revoke", err, ports.ErrConflict)

		ids := listAllIDs(t, other, byUser, created.User)
		expectSameIDs(t, "ListSessionsByUser through the other handle", ids, created.ID)
	})
}

func (s suite) testCorrupt(t *testing.T) {
	t.Run("NeverCreated", func(t *testing.T) {
		t.Parallel()
		e := s.openCorruptible(t, KindSession)
		id := newSessionID()
		e.putCorrupt(t, KindSession, id)
		expectCorrupt(t, e.store, id)
	})

	t.Run("OverExisting", func(t *testing.T) {
		t.Parallel()
		e := s.openCorruptible(t, KindSession)
		good := e.create(t, e.newSession())
		bad := e.create(t, e.newSession()) // same user, profile, instance, status
		e.putCorrupt(t, KindSession, bad.ID)

		expectCorrupt(t, e.store, bad.ID)
		expectSession(t, "GetSession of a sound neighbour", good, e.get(t, good.ID))

		// A listing whose index still reaches the record must fail with
		// ErrCorrupt naming it; one whose index lost it lists the rest.
		for _, l := range listings {
			key := l.key(e)
			var page ports.SessionPage
			var err error
			noPanic(t, l.name, func() { page, err = l.list(t.Context(), e.store, key, ports.Page{Limit: 10}) })
			if err != nil {
				expectCorruptErr(t, l.name, err, bad.ID)
				continue
			}
			ids := sessionIDs(page.Sessions)
			expectSameIDs(t, l.name+" (its index no longer reaches the corrupt record)", ids, good.ID)
		}

		var err error
		noPanic(t, "TouchSession", func() { _, err = e.store.TouchSession(t.Context(), bad.ID, e.clock.Now(), 1) })
		if err == nil {
			t.Error("TouchSession of a corrupt record: nil error, want one")
		}
		noPanic(t, "UpdateSession", func() { _, err = e.store.UpdateSession(t.Context(), bad) })
		if err == nil {
			t.Error("UpdateSession of a corrupt record: nil error, want one")
		}
		noPanic(t, "ExpireLapsedSessions", func() { _, err = e.store.ExpireLapsedSessions(t.Context(), e.clock.Now()) })
		if err != nil && !errors.Is(err, ports.ErrCorrupt) {
			t.Errorf("ExpireLapsedSessions with a corrupt record: %v; want nil (skipped) or ErrCorrupt", err)
		}
	})
}

// openCorruptible opens a store whose records of kind can be corrupted.
func (s suite) openCorruptible(t *testing.T, kind Kind) env {
	t.Helper()
	var e env
	switch kind {
	case KindRequest:
		e = s.openApprovals(t)
	case KindBreakGlass:
		e = s.openBreakGlass(t)
	default:
		e = s.open(t)
	}
	s.require(t, "CorruptInjection", s.features.CorruptInjection)
	if e.backend.PutCorruptRecord == nil && (kind != KindSession || e.backend.PutCorrupt == nil) {
		t.Fatalf("Features.CorruptInjection is set but Backend.PutCorruptRecord is nil (needed for %s records)", kind)
	}
	return e
}

// putCorrupt plants foreign data where the record of kind and id lives.
func (e env) putCorrupt(t *testing.T, kind Kind, id string) {
	t.Helper()
	if e.backend.PutCorruptRecord != nil {
		e.backend.PutCorruptRecord(t, kind, id)
		return
	}
	e.backend.PutCorrupt(t, id)
}

// expectCorruptRead checks a read of a corrupt record: an error wrapping
// ErrCorrupt that names the id, never a panic or a record with a nil error.
func expectCorruptRead[T any](t *testing.T, what, id string, read func() (T, error)) {
	t.Helper()
	var got T
	var err error
	noPanic(t, what, func() { got, err = read() })
	if err == nil {
		t.Fatalf("%s of a corrupt record: nil error and %+v", what, got)
	}
	expectCorruptErr(t, what, err, id)
}

// expectCorrupt checks GetSession of a corrupt record: an error wrapping
// ErrCorrupt that names the id, never a panic or a session with a nil error.
func expectCorrupt(t *testing.T, store ports.SessionStore, id string) {
	t.Helper()
	var got ports.Session
	var err error
	noPanic(t, "GetSession", func() { got, err = store.GetSession(t.Context(), id) })
	if err == nil {
		t.Fatalf("GetSession of a corrupt record: nil error and %+v", got)
	}
	expectCorruptErr(t, "GetSession", err, id)
}

func expectCorruptErr(t *testing.T, what string, err error, id string) {
	t.Helper()
	if !errors.Is(err, ports.ErrCorrupt) || !strings.Contains(err.Error(), id) {
		t.Errorf("%s of a corrupt record: %v; want an error wrapping %q that names %s", what, err, ports.ErrCorrupt, id)
	}
}

// noPanic runs f and turns a panic into a test failure naming what panicked.
func noPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s panicked on a corrupt record: %v", what, r)
		}
	}()
	f()
}
