package lock_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/core/lock"
	"github.com/sentinel-gw/sentinel/ports"
)

var t0 = time.Date(2031, 3, 14, 9, 0, 0, 0, time.UTC)

// countingStore counts ListActiveLocks and can fail it.
type countingStore struct {
	ports.LockStore
	reads atomic.Int64
	down  atomic.Bool
}

func (s *countingStore) ListActiveLocks(ctx context.Context, now time.Time) ([]ports.Lock, error) {
	s.reads.Add(1)
	if s.down.Load() {
		return nil, ports.ErrUnavailable
	}
	return s.LockStore.ListActiveLocks(ctx, now)
}

func newStore(t *testing.T, locks ...ports.Lock) *countingStore {
	t.Helper()
	m := memory.New(ports.NewFakeClock(t0))
	for _, l := range locks {
		if _, err := m.CreateLock(context.Background(), l); err != nil {
			t.Fatal(err)
		}
	}
	return &countingStore{LockStore: m}
}

func ids(locks []ports.Lock) map[string]bool {
	m := map[string]bool{}
	for _, l := range locks {
		m[l.ID] = true
	}
	return m
}

// The checker's index finds exactly what Matching finds over every lock.
func TestCheckerAgreesWithMatching(t *testing.T) {
	const arn = "arn:aws:iam::111122223333:user/alice"
	all := []ports.Lock{
		{ID: "a", Kind: ports.LockUser, Target: "alice", CreatedAt: t0},
		{ID: "b", Kind: ports.LockUser, Target: arn, CreatedAt: t0},
		{ID: "c", Kind: ports.LockProfile, Target: "prod", CreatedAt: t0},
		{ID: "d", Kind: ports.LockProfile, Target: "alice", CreatedAt: t0},
		{ID: "e", Kind: ports.LockUser, Target: "bob", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)},
		{ID: "f", Kind: ports.LockUser, Target: "bob", CreatedAt: t0, ExpiresAt: t0},
	}
	c := lock.NewChecker(newStore(t, all...), time.Hour)
	for _, who := range []ports.Identity{
		{Name: "alice", Source: "os"}, {Name: "alice", ARN: arn, Source: "sts"},
		{Name: "alice", ARN: "arn:aws:sts::111122223333:assumed-role/r/alice"}, {Name: "bob"}, {Name: "carol"}, {},
	} {
		for _, profile := range []string{"prod", "dev", "alice", ""} {
			got, err := c.ActiveLocks(context.Background(), who, profile, t0)
			if err != nil {
				t.Fatal(err)
			}
			want := lock.Matching(all, who, profile, t0)
			if g, w := ids(got), ids(want); len(g) != len(w) || len(got) != len(want) {
				t.Errorf("%+v on %q: checker found %v, Matching %v", who, profile, g, w)
			} else {
				for id := range w {
					if !g[id] {
						t.Errorf("%+v on %q: checker missed lock %s", who, profile, id)
					}
				}
			}
		}
	}
}

func TestCheckerReadsOncePerBoundUnderConcurrency(t *testing.T) {
	store := newStore(t, ports.Lock{ID: "a", Kind: ports.LockUser, Target: "alice", CreatedAt: t0})
	c := lock.NewChecker(store, lock.Bound)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			got, err := c.ActiveLocks(context.Background(), ports.Identity{Name: "alice"}, "prod", t0)
			if err != nil || len(got) != 1 {
				t.Errorf("ActiveLocks = %v, %v; want the one lock", got, err)
			}
		})
	}
	wg.Wait()
	if n := store.reads.Load(); n != 1 {
		t.Errorf("64 concurrent requests made %d reads, want 1", n)
	}
	// The clock moving back makes the snapshot stale too.
	if _, err := c.ActiveLocks(context.Background(), ports.Identity{Name: "alice"}, "prod", t0.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := store.reads.Load(); n != 2 {
		t.Errorf("after the clock moved back: %d reads, want 2", n)
	}
}

func TestCheckerStoreDown(t *testing.T) {
	store := newStore(t, ports.Lock{ID: "a", Kind: ports.LockUser, Target: "alice", CreatedAt: t0})
	c := lock.NewChecker(store, lock.Bound)
	alice := ports.Identity{Name: "alice"}
	if got, err := c.ActiveLocks(context.Background(), alice, "prod", t0); err != nil || len(got) != 1 {
		t.Fatalf("ActiveLocks = %v, %v", got, err)
	}
	store.down.Store(true)
	now := t0.Add(lock.Bound)
	got, err := c.ActiveLocks(context.Background(), alice, "prod", now)
	if !errors.Is(err, ports.ErrUnavailable) || len(got) != 1 {
		t.Errorf("store down: %v, %v; want the lock seen before, and the error", got, err)
	}
	// Not retried within the bound: one wait per bound, not per request.
	for range 10 {
		_, _ = c.ActiveLocks(context.Background(), ports.Identity{Name: "bob"}, "dev", now.Add(lock.Bound/2))
	}
	if n := store.reads.Load(); n != 2 {
		t.Errorf("store down: %d reads within one bound, want 2 (one before, one failed)", n)
	}
	store.down.Store(false)
	if _, err := c.ActiveLocks(context.Background(), alice, "prod", now.Add(lock.Bound)); err != nil {
		t.Errorf("store back: %v", err)
	}
}

// blockingStore blocks ListActiveLocks until released (or its ctx ends).
type blockingStore struct {
	*countingStore
	release chan struct{}
	block   atomic.Bool
}

func (s *blockingStore) ListActiveLocks(ctx context.Context, now time.Time) ([]ports.Lock, error) {
	if s.block.Load() {
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.countingStore.ListActiveLocks(ctx, now)
}

// Under Run, the loop reads the locks and requests never wait on the store:
// a new lock shows within a bound or so, and a read that hangs delays no
// request.
func TestCheckerRunReadsInTheBackground(t *testing.T) {
	clock := ports.SystemClock{}
	store := &blockingStore{countingStore: newStore(t), release: make(chan struct{})}
	const bound = 20 * time.Millisecond
	c := lock.NewChecker(store, bound)
	alice := ports.Identity{Name: "alice"}
	if got, err := c.ActiveLocks(context.Background(), alice, "prod", clock.Now()); err != nil || len(got) != 0 {
		t.Fatalf("first check: %v, %v", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, clock) }()
	defer func() { cancel(); <-done }()

	if _, err := store.CreateLock(context.Background(), ports.Lock{ID: "a", Kind: ports.LockUser, Target: "alice", CreatedAt: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := c.ActiveLocks(context.Background(), alice, "prod", clock.Now())
		if err == nil && len(got) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the loop never picked the lock up: %v, %v", got, err)
		}
		time.Sleep(bound / 4)
	}

	// The loop's read now hangs: requests still answer at once, from memory.
	store.block.Store(true)
	time.Sleep(2 * bound) // the loop is inside a read
	start := time.Now()
	for range 100 {
		if got, _ := c.ActiveLocks(context.Background(), alice, "prod", clock.Now()); len(got) != 1 {
			t.Fatal("a request lost the known lock while the loop's read hangs")
		}
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("100 requests took %s while the loop's read hangs; they must not wait on the store", took)
	}
	close(store.release)
}
