package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// KindLock names lock records for Backend.PutCorruptRecord.
const KindLock Kind = "lock"

// Decisions the suite pins for locks (ports.LockStore), on top of those in
// the package comment:
//   - CreateLock stores the fields as given and sets Version 1; a lock that
//     fails ports.Lock.Check is ErrInvalidArgument and nothing is stored.
//   - EndLock writes EndedAt (UTC), EndedBy and Version 2 and nothing else;
//     a second end, or the end of a lock that ran out by its at argument,
//     is ErrInvalidTransition and changes nothing; of 8 racing ends exactly
//     one wins.
//   - ListActiveLocks judges by its now argument: a lock whose ExpiresAt is
//     at or before now, or that was ended, is not listed; a zero ExpiresAt
//     never runs out. Both listings are newest first; ListLocks pages.
//   - A corrupt lock fails GetLock and both listings with ErrCorrupt naming
//     its id: a lock never vanishes silently from the hot path.

// openLocks is open for a test of the lock store.
func (s suite) openLocks(t *testing.T) (env, ports.LockStore) {
	t.Helper()
	e := s.open(t)
	s.requireStore(t, "Locks", e.backend.Locks != nil)
	return e, e.backend.Locks
}

// newLock is a user lock of the namespace, made a minute ago for two hours.
func (e env) newLock() ports.Lock {
	created := e.clock.Now().Add(-time.Minute)
	return ports.Lock{
		ID:        newSessionID(),
		Kind:      ports.LockUser,
		Target:    e.ns + "-user",
		Reason:    "conformance: credentials leaked in " + e.ns,
		CreatedBy: e.ns + "-admin",
		CreatedAt: created,
		ExpiresAt: created.Add(2 * time.Hour),
	}
}

func mustCreateLock(t *testing.T, store ports.LockStore, l ports.Lock) ports.Lock {
	t.Helper()
	got, err := store.CreateLock(t.Context(), l)
	if err != nil {
		t.Fatalf("CreateLock(%s): %v", l.ID, err)
	}
	l.Version = 1
	expectLock(t, "CreateLock's result", l, got)
	return got
}

func mustGetLock(t *testing.T, store ports.LockStore, id string) ports.Lock {
	t.Helper()
	got, err := store.GetLock(t.Context(), id)
	if err != nil {
		t.Fatalf("GetLock(%s): %v", id, err)
	}
	return got
}

func expectLock(t *testing.T, what string, want, got ports.Lock) {
	t.Helper()
	if d := diffRecords(want, got); len(d) > 0 {
		t.Errorf("%s: lock %s differs:\n\t%s", what, want.ID, strings.Join(d, "\n\t"))
	}
}

func lockIDs(locks []ports.Lock) []string {
	ids := make([]string, len(locks))
	for i, l := range locks {
		ids[i] = l.ID
	}
	return ids
}

// expectOrderedIDs fails t unless got lists exactly want, in that order.
func expectOrderedIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: ids %v, want %v in this order", what, got, want)
	}
}

func (s suite) testLocks(t *testing.T) {
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		e, store := s.openLocks(t)
		l := e.newLock()
		l.CreatedAt = l.CreatedAt.In(time.FixedZone("UTC+5", 5*3600)).Add(123 * time.Nanosecond) // not UTC, finer than Precision
		created := mustCreateLock(t, store, l)
		expectLock(t, "GetLock", created, mustGetLock(t, store, l.ID))

		forever := e.newLock()
		forever.Kind, forever.Target, forever.ExpiresAt = ports.LockProfile, e.ns+"-profile", time.Time{}
		created = mustCreateLock(t, store, forever)
		got := mustGetLock(t, store, forever.ID)
		expectLock(t, "GetLock of a lock without an end", created, got)
		if !got.ExpiresAt.IsZero() || !got.EndedAt.IsZero() || got.EndedBy != "" {
			t.Errorf("GetLock of a lock without an end: ExpiresAt %v, EndedAt %v, EndedBy %q; want all zero", got.ExpiresAt, got.EndedAt, got.EndedBy)
		}
	})
	t.Run("InvalidArgument", func(t *testing.T) {
		t.Parallel()
		e, store := s.openLocks(t)
		for name, spoil := range map[string]func(*ports.Lock){
			"empty id":     func(l *ports.Lock) { l.ID = "" },
			"unknown kind": func(l *ports.Lock) { l.Kind = "group" },
			"empty target": func(l *ports.Lock) { l.Target = " " },
		} {
			l := e.newLock()
			spoil(&l)
			_, err := store.CreateLock(t.Context(), l)
			expectErr(t, "CreateLock with "+name, err, ports.ErrInvalidArgument)
			if l.ID != "" {
				_, err = store.GetLock(t.Context(), l.ID)
				expectErr(t, "GetLock after a refused create with "+name, err, ports.ErrNotFound)
			}
		}
		_, err := store.GetLock(t.Context(), "")
		expectErr(t, "GetLock of an empty id", err, ports.ErrInvalidArgument)
	})
	t.Run("DuplicateID", func(t *testing.T) {
		t.Parallel()
		e, store := s.openLocks(t)
		first := mustCreateLock(t, store, e.newLock())
		intruder := e.newLock()
		intruder.ID, intruder.Target = first.ID, e.ns+"-intruder"
		_, err := store.CreateLock(t.Context(), intruder)
		expectErr(t, "CreateLock of a taken id", err, ports.ErrAlreadyExists)
		expectLock(t, "GetLock after the refused duplicate", first, mustGetLock(t, store, first.ID))
	})
	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		e, store := s.openLocks(t)
		_, err := store.GetLock(t.Context(), newSessionID())
		expectErr(t, "GetLock of a missing id", err, ports.ErrNotFound)
		_, err = store.EndLock(t.Context(), newSessionID(), e.ns+"-admin", e.clock.Now())
		expectErr(t, "EndLock of a missing id", err, ports.ErrNotFound)
	})
	t.Run("End", func(t *testing.T) {
		t.Parallel()
		s.lockEnd(t)
	})
	t.Run("ListActive", func(t *testing.T) {
		t.Parallel()
		s.lockListActive(t)
	})
	t.Run("ListPaging", func(t *testing.T) {
		t.Parallel()
		s.lockPaging(t)
	})
	t.Run("EndRace", func(t *testing.T) {
		t.Parallel()
		s.lockEndRace(t)
	})
	t.Run("SharedHandles", func(t *testing.T) {
		t.Parallel()
		s.lockSharedHandles(t)
	})
	t.Run("Corrupt", func(t *testing.T) {
		t.Parallel()
		s.lockCorrupt(t)
	})
}

func (s suite) lockEnd(t *testing.T) {
	e, store := s.openLocks(t)
	created := mustCreateLock(t, store, e.newLock())
	at := e.clock.Now().Add(time.Minute)
	ended, err := store.EndLock(t.Context(), created.ID, e.ns+"-admin", at.In(time.FixedZone("UTC-3", -3*3600)))
	if err != nil {
		t.Fatalf("EndLock: %v", err)
	}
	want := created
	want.EndedAt, want.EndedBy, want.Version = at, e.ns+"-admin", 2
	expectLock(t, "EndLock's result", want, ended)
	expectLock(t, "GetLock after EndLock", want, mustGetLock(t, store, created.ID))

	_, err = store.EndLock(t.Context(), created.ID, e.ns+"-other", at.Add(time.Second))
	expectErr(t, "a second EndLock", err, ports.ErrInvalidTransition)
	expectLock(t, "GetLock after the refused second end", want, mustGetLock(t, store, created.ID))

	// A lock that ran out by the end's time cannot be ended: it has ended.
	ranOut := mustCreateLock(t, store, e.newLock())
	_, err = store.EndLock(t.Context(), ranOut.ID, e.ns+"-admin", ranOut.ExpiresAt)
	expectErr(t, "EndLock at the lock's ExpiresAt", err, ports.ErrInvalidTransition)
	expectLock(t, "GetLock after the refused end of a run-out lock", ranOut, mustGetLock(t, store, ranOut.ID))
}

func (s suite) lockListActive(t *testing.T) {
	e, store := s.openLocks(t)
	now := e.clock.Now()
	older := e.newLock()
	older.CreatedAt = now.Add(-2 * time.Minute)
	forever := e.newLock()
	forever.Kind, forever.Target, forever.ExpiresAt = ports.LockProfile, e.ns+"-profile", time.Time{}
	ranOut := e.newLock()
	ranOut.ExpiresAt = now // at or before now: not in force
	ended := e.newLock()
	ended.CreatedAt = now.Add(-30 * time.Second)
	for _, l := range []ports.Lock{older, forever, ranOut, ended} {
		mustCreateLock(t, store, l)
	}
	if _, err := store.EndLock(t.Context(), ended.ID, e.ns+"-admin", now); err != nil {
		t.Fatalf("EndLock: %v", err)
	}
	// forever and ranOut share CreatedAt; ID descending breaks the tie.
	first, second := forever.ID, ranOut.ID
	if first < second {
		first, second = second, first
	}
	active, err := store.ListActiveLocks(t.Context(), now)
	if err != nil {
		t.Fatalf("ListActiveLocks: %v", err)
	}
	expectOrderedIDs(t, "ListActiveLocks at now", lockIDs(active), forever.ID, older.ID)
	for _, l := range active {
		if l.Version != 1 {
			t.Errorf("ListActiveLocks: lock %s has Version %d, want 1", l.ID, l.Version)
		}
	}

	// The listing judges by its argument, not the store's clock.
	before, err := store.ListActiveLocks(t.Context(), now.Add(-time.Microsecond))
	if err != nil {
		t.Fatalf("ListActiveLocks a microsecond earlier: %v", err)
	}
	want := []string{first, second, older.ID}
	expectOrderedIDs(t, "ListActiveLocks a microsecond before ranOut runs out", lockIDs(before), want...)
	later, err := store.ListActiveLocks(t.Context(), now.Add(3*time.Hour))
	if err != nil {
		t.Fatalf("ListActiveLocks three hours on: %v", err)
	}
	expectOrderedIDs(t, "ListActiveLocks three hours on (only the lock without an end)", lockIDs(later), forever.ID)

	// ListLocks lists them all, ended and run out included.
	all := listAllLocks(t, store, 10)
	expectSameIDs(t, "ListLocks", lockIDs(all), older.ID, forever.ID, ranOut.ID, ended.ID)
}

// listAllLocks walks ListLocks page by page and checks the order.
func listAllLocks(t *testing.T, store ports.LockStore, limit int) []ports.Lock {
	t.Helper()
	var all []ports.Lock
	p := ports.Page{Limit: limit}
	for range 1000 {
		page, err := store.ListLocks(t.Context(), p)
		if err != nil {
			t.Fatalf("ListLocks(%+v): %v", p, err)
		}
		if len(page.Locks) > limit {
			t.Fatalf("ListLocks(limit %d) returned %d locks", limit, len(page.Locks))
		}
		all = append(all, page.Locks...)
		if page.Next == "" {
			break
		}
		p.Cursor = page.Next
	}
	for i := 1; i < len(all); i++ {
		if ports.LockPosition(all[i-1]).Compare(ports.LockPosition(all[i])) >= 0 {
			t.Errorf("ListLocks: %s listed before %s, out of newest-first order", all[i-1].ID, all[i].ID)
		}
	}
	return all
}

func (s suite) lockPaging(t *testing.T) {
	e, store := s.openLocks(t)
	var want []string
	for i := range 5 {
		l := e.newLock()
		l.CreatedAt = e.clock.Now().Add(-time.Duration(i) * time.Minute) // newest first
		mustCreateLock(t, store, l)
		want = append(want, l.ID)
	}
	for _, limit := range []int{1, 2, 5} {
		expectOrderedIDs(t, fmt.Sprintf("ListLocks in pages of %d", limit), lockIDs(listAllLocks(t, store, limit)), want...)
	}
	page, err := store.ListLocks(t.Context(), ports.Page{Limit: 5})
	if err != nil {
		t.Fatalf("ListLocks: %v", err)
	}
	if page.Next != "" {
		t.Errorf("ListLocks of exactly a full last page: Next %q, want empty", page.Next)
	}
	for _, p := range []ports.Page{{Limit: 0}, {Limit: ports.MaxPageLimit + 1}, {Limit: 2, Cursor: "not-a-cursor"}} {
		_, err := store.ListLocks(t.Context(), p)
		expectErr(t, fmt.Sprintf("ListLocks(%+v)", p), err, ports.ErrInvalidArgument)
	}
}

func (s suite) lockEndRace(t *testing.T) {
	e, store := s.openLocks(t)
	l := mustCreateLock(t, store, e.newLock())
	const enders = 8
	errs := make([]error, enders)
	race(enders, func(w int) {
		_, errs[w] = store.EndLock(context.Background(), l.ID, fmt.Sprintf("%s-admin-%d", e.ns, w), e.clock.Now())
	})
	wins := 0
	for w, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ports.ErrInvalidTransition):
			t.Errorf("ender %d: %v, want nil or ErrInvalidTransition", w, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d racing EndLock calls won, want exactly 1", wins, enders)
	}
	if got := mustGetLock(t, store, l.ID); got.Version != 2 || got.EndedAt.IsZero() {
		t.Errorf("after the race: Version %d, EndedAt %v; want 2 and set", got.Version, got.EndedAt)
	}
}

func (s suite) lockSharedHandles(t *testing.T) {
	s.require(t, "SharedHandles", s.features.SharedHandles)
	e, store := s.openLocks(t)
	other := openOther[ports.LockStore](t, e, "LockStore")
	l := mustCreateLock(t, store, e.newLock())
	active, err := other.ListActiveLocks(t.Context(), e.clock.Now())
	if err != nil {
		t.Fatalf("ListActiveLocks through the other handle: %v", err)
	}
	expectOrderedIDs(t, "ListActiveLocks through the other handle right after the create", lockIDs(active), l.ID)
	if _, err := other.EndLock(t.Context(), l.ID, e.ns+"-admin", e.clock.Now()); err != nil {
		t.Fatalf("EndLock through the other handle: %v", err)
	}
	active, err = store.ListActiveLocks(t.Context(), e.clock.Now())
	if err != nil {
		t.Fatalf("ListActiveLocks through the first handle: %v", err)
	}
	expectOrderedIDs(t, "ListActiveLocks through the first handle right after the other unlocked", lockIDs(active))
}

func (s suite) lockCorrupt(t *testing.T) {
	e, store := s.openLocks(t)
	s.require(t, "CorruptInjection", s.features.CorruptInjection)
	if e.backend.PutCorruptRecord == nil {
		t.Fatal("Features.CorruptInjection is set but Backend.PutCorruptRecord is nil (needed for lock records)")
	}
	good := mustCreateLock(t, store, e.newLock())
	bad := mustCreateLock(t, store, e.newLock())
	e.backend.PutCorruptRecord(t, KindLock, bad.ID)

	expectCorruptRead(t, "GetLock", bad.ID, func() (ports.Lock, error) { return store.GetLock(t.Context(), bad.ID) })
	expectLock(t, "GetLock of a sound neighbour", good, mustGetLock(t, store, good.ID))
	expectCorruptRead(t, "ListActiveLocks", bad.ID, func() ([]ports.Lock, error) {
		return store.ListActiveLocks(t.Context(), e.clock.Now())
	})
	expectCorruptRead(t, "ListLocks", bad.ID, func() (ports.LockPage, error) {
		return store.ListLocks(t.Context(), ports.Page{Limit: 10})
	})
	var err error
	noPanic(t, "EndLock", func() { _, err = store.EndLock(t.Context(), bad.ID, e.ns+"-admin", e.clock.Now()) })
	if err == nil {
		t.Error("EndLock of a corrupt record: nil error, want one")
	}
}
