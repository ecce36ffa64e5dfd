package gateway_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// A broker serves sessions it does not run: no Tracker, no View. Every
// request reads the record; an end once seen is remembered process-wide.

const ownerARN = "arn:aws:sts::111122223333:assumed-role/Dev/alice"

var owner = ports.Identity{Name: "alice", ARN: ownerARN, Source: "sts"}

// losableStore is the memory store whose session reads can be made to find
// nothing (a wiped Redis, a deleted item) or to fail (a store gone away).
type losableStore struct {
	*memory.Store
	lost, down atomic.Bool
}

func (s *losableStore) GetSession(ctx context.Context, id string) (ports.Session, error) {
	switch {
	case s.down.Load():
		return ports.Session{}, errors.New("dial tcp: connection refused")
	case s.lost.Load():
		return ports.Session{}, ports.ErrNotFound
	}
	return s.Store.GetSession(ctx, id)
}

type statelessRig struct {
	clock  *ports.FakeClock
	store  *losableStore
	sid    string
	memory *gateway.Remembered
}

func newStatelessRig(t *testing.T) *statelessRig {
	t.Helper()
	clock := ports.NewFakeClock(t0)
	r := &statelessRig{clock: clock, store: &losableStore{Store: memory.New(clock)}, memory: gateway.NewRemembered(0)}
	r.sid, _ = record.NewID()
	if _, err := r.store.CreateSession(t.Context(), ports.Session{ID: r.sid, User: "alice", UserARN: ownerARN, Profile: "prod",
		Status: ports.SessionActive, StartedAt: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *statelessRig) gateway(t *testing.T, onStoreError session.StoreErrorPolicy, remembered *gateway.Remembered) *gateway.Gateway {
	t.Helper()
	return gateway.New(gateway.Config{Profile: "prod", Identity: owner, SessionID: r.sid, OnStoreError: onStoreError},
		gateway.Deps{Policy: policyOf(t, allowAll), Source: &countingSource{clock: r.clock}, Clock: r.clock,
			Sessions: r.store, Remembered: remembered})
}

func TestStatelessRefusesRevokeAndRemembersIt(t *testing.T) {
	r := newStatelessRig(t)
	gw := r.gateway(t, session.StoreErrorAllow, r.memory)
	if _, err := gw.Issue(t.Context(), "r1"); err != nil {
		t.Fatalf("active session: %v", err)
	}
	if _, _, err := session.RevokeByID(t.Context(), r.store, r.sid, "secops", "laptop stolen", r.clock); err != nil {
		t.Fatal(err)
	}
	var revoked *gateway.RevokedError
	if _, err := gw.Issue(t.Context(), "r2"); !errors.As(err, &revoked) || revoked.By != "secops" {
		t.Fatalf("after the revoke: err = %v, want RevokedError by secops", err)
	}
	// The record is lost, then the store goes away: another gateway of the
	// same process (a new one, with an empty credential cache) still
	// refuses with the revoke it remembers, whatever --on-store-error says.
	r.store.lost.Store(true)
	if _, err := r.gateway(t, session.StoreErrorAllow, r.memory).Issue(t.Context(), "r3"); !errors.As(err, &revoked) {
		t.Fatalf("record lost: err = %v, want the remembered revoke", err)
	}
	r.store.down.Store(true)
	if _, err := r.gateway(t, session.StoreErrorAllow, r.memory).Issue(t.Context(), "r4"); !errors.As(err, &revoked) {
		t.Fatalf("store down: err = %v, want the remembered revoke", err)
	}
}

func TestStatelessRefusesLostRecord(t *testing.T) {
	// Without a running server nothing writes a lost record back: it is
	// refused under either store-error policy, never served unchecked.
	for _, p := range []session.StoreErrorPolicy{session.StoreErrorAllow, session.StoreErrorDeny} {
		r := newStatelessRig(t)
		r.store.lost.Store(true)
		_, err := r.gateway(t, p, nil).Issue(t.Context(), "r")
		var storeErr *gateway.StoreError
		if !errors.As(err, &storeErr) || !storeErr.Lost || !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("%s: err = %v, want a StoreError for a lost record", p, err)
		}
	}
}

func TestStatelessRefusesLapsedLease(t *testing.T) {
	r := newStatelessRig(t)
	gw := r.gateway(t, session.StoreErrorAllow, r.memory)
	r.clock.Advance(time.Minute) // ExpiresAt reached: no heartbeat renewed it
	var ended *gateway.SessionEndedError
	if _, err := gw.Issue(t.Context(), "r"); !errors.As(err, &ended) {
		t.Fatalf("lapsed lease: err = %v, want SessionEndedError", err)
	}
	if _, ok := r.memory.Ended(r.sid); !ok {
		t.Error("a lapsed session is not remembered")
	}
}

func TestStatelessStoreErrorPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy session.StoreErrorPolicy
		serve  bool
	}{{session.StoreErrorAllow, true}, {session.StoreErrorDeny, false}} {
		r := newStatelessRig(t)
		r.store.down.Store(true)
		_, err := r.gateway(t, tc.policy, r.memory).Issue(t.Context(), "r")
		if (err == nil) != tc.serve {
			t.Errorf("%s with the store down: err = %v, want served %v", tc.policy, err, tc.serve)
		}
	}
}

func TestStatelessNeverServesUnchecked(t *testing.T) {
	// A session id without any way to read the session is a wiring fault:
	// refused, never served as if untracked.
	clock := ports.NewFakeClock(t0)
	gw := gateway.New(gateway.Config{Profile: "prod", Identity: owner, SessionID: "0123456789abcdef0123456789abcdef"},
		gateway.Deps{Policy: policyOf(t, allowAll), Source: &countingSource{clock: clock}, Clock: clock})
	var storeErr *gateway.StoreError
	if _, err := gw.Issue(t.Context(), "r"); !errors.As(err, &storeErr) {
		t.Fatalf("err = %v, want a StoreError", err)
	}
}

func TestStatelessRefusesAnotherOwner(t *testing.T) {
	r := newStatelessRig(t)
	gw := gateway.New(gateway.Config{Profile: "prod", SessionID: r.sid,
		Identity: ports.Identity{Name: "alice", ARN: "arn:aws:sts::111122223333:assumed-role/Other/alice", Source: "sts"}},
		gateway.Deps{Policy: policyOf(t, allowAll), Source: &countingSource{clock: r.clock}, Clock: r.clock, Sessions: r.store})
	if _, err := gw.Issue(t.Context(), "r"); !errors.Is(err, ports.ErrForbidden) {
		t.Fatalf("err = %v, want ErrForbidden for a caller who does not own the session", err)
	}
}

func TestRememberedBounded(t *testing.T) {
	m := gateway.NewRemembered(2)
	ended := func(id string) ports.Session {
		return ports.Session{ID: id, Status: ports.SessionRevoked, RevokedBy: "secops", RevokedReason: "r", RevokedAt: t0}
	}
	if m.Observe(ports.Session{ID: "active", Status: ports.SessionActive}, t0) {
		t.Error("Observe reports an active session as ended")
	}
	for _, id := range []string{"a", "b", "c"} {
		if !m.Observe(ended(id), t0) {
			t.Errorf("Observe(%s) does not report the revoke", id)
		}
	}
	if m.Len() != 2 {
		t.Fatalf("Len = %d, want the limit 2", m.Len())
	}
	if _, ok := m.Ended("a"); ok {
		t.Error("the longest-remembered session was not forgotten first")
	}
	for _, id := range []string{"b", "c"} {
		if e, ok := m.Ended(id); !ok || e.Status != ports.SessionRevoked || e.By != "secops" {
			t.Errorf("Ended(%s) = %+v, %v; want the revoke", id, e, ok)
		}
	}
	// A session seen again keeps its place and its first end.
	m.Observe(ports.Session{ID: "b", Status: ports.SessionExpired}, t0)
	if e, _ := m.Ended("b"); e.Status != ports.SessionRevoked || m.Len() != 2 {
		t.Errorf("Ended(b) = %+v after a second sighting, Len %d; want the first end kept", e, m.Len())
	}
	if _, ok := m.Ended("active"); ok {
		t.Error("an active session is remembered")
	}
	var none *gateway.Remembered
	if none.Observe(ended("x"), t0); none.Len() != 0 {
		t.Error("a nil Remembered remembers")
	}
}
