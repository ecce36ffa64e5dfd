package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/lock"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// lockStore counts the reads of the locks and can fail them.
type lockStore struct {
	ports.LockStore
	reads atomic.Int64
	down  atomic.Bool
}

func (s *lockStore) ListActiveLocks(ctx context.Context, now time.Time) ([]ports.Lock, error) {
	s.reads.Add(1)
	if s.down.Load() {
		return nil, errors.New("dial tcp: connection refused: " + ports.ErrUnavailable.Error())
	}
	return s.LockStore.ListActiveLocks(ctx, now)
}

// withLocks wires a lock.Checker on the rig's own store, and returns the
// counting store in front of it.
func withLocks(r **lockStore) rigOption {
	return func(_ *gateway.Config, d *gateway.Deps) {
		ls := &lockStore{LockStore: d.Sessions.(ports.LockStore)}
		*r = ls
		d.Locks = lock.NewChecker(ls, lock.Bound)
	}
}

func (r *rig) lock(t *testing.T, kind ports.LockKind, target string, ttl time.Duration) ports.Lock {
	t.Helper()
	id, _ := record.NewID()
	l := ports.Lock{ID: id, Kind: kind, Target: target, Reason: "laptop stolen", CreatedBy: "secops", CreatedAt: r.clock.Now()}
	if ttl > 0 {
		l.ExpiresAt = r.clock.Now().Add(ttl)
	}
	got, err := r.store.CreateLock(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func expectLocked(t *testing.T, err error, l ports.Lock) {
	t.Helper()
	var locked *gateway.LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("Issue: %v, want a LockedError", err)
	}
	if locked.Lock.ID != l.ID {
		t.Errorf("refused by lock %s, want %s", locked.Lock.ID, l.ID)
	}
	for _, want := range []string{"secops", "laptop stolen", l.ID, "sentinel unlock"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %q", err, want)
		}
	}
}

func TestLockRefusesTheNextRequestWithinTheBound(t *testing.T) {
	var ls *lockStore
	r := newRig(t, allowAll, withLocks(&ls))
	if _, err := r.gw.Issue(context.Background(), "before"); err != nil {
		t.Fatal(err)
	}
	l := r.lock(t, ports.LockUser, "alice", 0)
	r.clock.Advance(lock.Bound)
	calls := r.source.calls.Load()
	_, err := r.gw.Issue(context.Background(), "after")
	expectLocked(t, err, l)
	if !strings.Contains(err.Error(), "until unlocked") {
		t.Errorf("a lock without --ttl: message %q should say it lasts until unlocked", err)
	}
	if rec := r.log.last(t); rec.Effect != "deny" || rec.Reason != "locked" || rec.RequestID != "after" {
		t.Errorf("decision record = %+v, want a deny with reason locked", rec)
	}
	if got := r.source.calls.Load(); got != calls {
		t.Errorf("a locked request called the credential source (%d calls, want %d)", got, calls)
	}

	// Unlocked: served again once the cache has moved on.
	if _, err := r.store.EndLock(context.Background(), l.ID, "secops", r.clock.Now()); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(lock.Bound)
	if _, err := r.gw.Issue(context.Background(), "unlocked"); err != nil {
		t.Errorf("after unlock: %v", err)
	}
}

func TestLockReadsTheStoreAtMostOncePerBound(t *testing.T) {
	var ls *lockStore
	r := newRig(t, allowAll, withLocks(&ls))
	for range 100 {
		if _, err := r.gw.Issue(context.Background(), "r"); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(lock.Bound / 100)
	}
	if got := ls.reads.Load(); got != 1 {
		t.Errorf("100 requests within one bound read the locks %d times, want 1", got)
	}
	r.clock.Advance(lock.Bound)
	if _, err := r.gw.Issue(context.Background(), "r"); err != nil {
		t.Fatal(err)
	}
	if got := ls.reads.Load(); got != 2 {
		t.Errorf("after the bound: %d reads, want 2", got)
	}
}

func TestLockMatchesUserOrProfileOnly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kind   ports.LockKind
		target string
		refuse bool
	}{
		{"the caller by name", ports.LockUser, "alice", true},
		{"the profile", ports.LockProfile, "prod", true},
		{"another user", ports.LockUser, "bob", false},
		{"another profile", ports.LockProfile, "dev", false},
		{"an ARN the OS identity does not have", ports.LockUser, "arn:aws:iam::111122223333:user/alice", false},
		{"a profile named like the user", ports.LockProfile, "alice", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ls *lockStore
			r := newRig(t, allowAll, withLocks(&ls))
			l := r.lock(t, tc.kind, tc.target, time.Hour)
			_, err := r.gw.Issue(context.Background(), "r")
			if tc.refuse {
				expectLocked(t, err, l)
			} else if err != nil {
				t.Errorf("Issue: %v, want served", err)
			}
		})
	}
}

func TestLockBeatsBreakGlass(t *testing.T) {
	var ls *lockStore
	r := newRig(t, `version: "1"
rules:
  - name: nobody
    effect: deny
    reason: closed
breakglass:
  - name: oncall
    users: [alice]
    profiles: [prod]
    max_duration: 1h
`, withLocks(&ls), func(_ *gateway.Config, d *gateway.Deps) {
		d.BreakGlass = grant{id: "bg1", expires: t0.Add(time.Hour)}
	})
	if _, err := r.gw.Issue(context.Background(), "bg"); err != nil {
		t.Fatalf("break-glass before the lock: %v", err)
	}
	l := r.lock(t, ports.LockUser, "alice", time.Hour)
	r.clock.Advance(lock.Bound)
	_, err := r.gw.Issue(context.Background(), "r")
	expectLocked(t, err, l)
}

func TestLockWithTTLEndsOnItsOwn(t *testing.T) {
	var ls *lockStore
	r := newRig(t, allowAll, withLocks(&ls))
	l := r.lock(t, ports.LockProfile, "prod", time.Minute)
	_, err := r.gw.Issue(context.Background(), "r")
	expectLocked(t, err, l)
	if !strings.Contains(err.Error(), "until "+t0.Add(time.Minute).Format(time.RFC3339)) {
		t.Errorf("message %q should say when the lock ends", err)
	}
	r.clock.Advance(time.Minute)
	if _, err := r.gw.Issue(context.Background(), "r"); err != nil {
		t.Errorf("after the lock's ttl: %v, want served", err)
	}
}

func TestLockStoreErrorFollowsOnStoreError(t *testing.T) {
	for _, tc := range []struct {
		policy session.StoreErrorPolicy
		serve  bool
	}{
		{session.StoreErrorAllow, true},
		{session.StoreErrorDeny, false},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			var ls *lockStore
			r := newRig(t, allowAll, withLocks(&ls), func(c *gateway.Config, _ *gateway.Deps) { c.OnStoreError = tc.policy })
			ls.down.Store(true)
			_, err := r.gw.Issue(context.Background(), "r")
			var checkErr *gateway.StoreError
			switch {
			case tc.serve && err != nil:
				t.Errorf("store down, --on-store-error=allow: %v, want served", err)
			case !tc.serve && !errors.As(err, &checkErr):
				t.Errorf("store down, --on-store-error=deny: %v, want a StoreError", err)
			}
		})
	}
}

func TestLockSeenOnceRefusesWhileTheStoreIsDown(t *testing.T) {
	var ls *lockStore
	r := newRig(t, allowAll, withLocks(&ls), func(c *gateway.Config, _ *gateway.Deps) { c.OnStoreError = session.StoreErrorAllow })
	l := r.lock(t, ports.LockUser, "alice", time.Hour)
	_, err := r.gw.Issue(context.Background(), "seen")
	expectLocked(t, err, l)
	ls.down.Store(true)
	r.clock.Advance(lock.Bound)
	_, err = r.gw.Issue(context.Background(), "down")
	expectLocked(t, err, l)
}

func TestCheckLocksBeforeStart(t *testing.T) {
	var ls *lockStore
	r := newRig(t, allowAll, withLocks(&ls))
	if err := r.gw.CheckLocks(context.Background()); err != nil {
		t.Fatalf("no lock: %v", err)
	}
	l := r.lock(t, ports.LockUser, "alice", time.Hour)
	r.clock.Advance(lock.Bound)
	expectLocked(t, r.gw.CheckLocks(context.Background()), l)
}

// BenchmarkIssueWithLocks is BenchmarkIssue with the lock check wired, on a
// store holding 50 locks in force (of other users and profiles, so every
// request is served and scans them all). Compare with BenchmarkIssue: the
// check reads the store once per lock.Bound, not per request.
func BenchmarkIssueWithLocks(b *testing.B) {
	benchIssue(b, func(store *memory.Store, d *gateway.Deps) {
		now := time.Now()
		for i := range 50 {
			id, _ := record.NewID()
			kind, target := ports.LockUser, fmt.Sprintf("user-%d", i)
			if i%2 == 1 {
				kind, target = ports.LockProfile, fmt.Sprintf("profile-%d", i)
			}
			if _, err := store.CreateLock(context.Background(), ports.Lock{ID: id, Kind: kind, Target: target, Reason: "bench", CreatedAt: now}); err != nil {
				b.Fatal(err)
			}
		}
		d.Locks = lock.NewChecker(store, lock.Bound)
	})
}

// A revoked session says so even while the lock check cannot read the
// store under --on-store-error=deny: a revoke is terminal and more precise.
func TestRevokedBeatsLockStoreError(t *testing.T) {
	var ls *lockStore
	r := newRig(t, allowAll, withLocks(&ls), func(c *gateway.Config, _ *gateway.Deps) { c.OnStoreError = session.StoreErrorDeny })
	r.revoke(t)
	ls.down.Store(true)
	_, err := r.gw.Issue(context.Background(), "r")
	var revoked *gateway.RevokedError
	if !errors.As(err, &revoked) {
		t.Errorf("revoked session, lock store down: %v, want the RevokedError", err)
	}
}
