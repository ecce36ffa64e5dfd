// Package lock decides which locks refuse a request, and keeps the
// per-request check off the store: Checker reads the locks in force once
// per Bound, whatever the request rate, and requests answer from memory.
package lock

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Bound is how stale the per-request check's view of the locks may be: a
// server re-reads them this often (Checker.Run), so a new lock refuses its
// requests at most Bound plus one store read after it is created. The
// session view resyncs on the same bound.
const Bound = 250 * time.Millisecond

// ReadBudget bounds one read of the locks, so a store that is down makes a
// request fail (or serve, fail-open) within it, never hang. It is the
// gateway's StoreBudget.
const ReadBudget = 1500 * time.Millisecond

// Matching returns the locks of all that are in force at now and cover a
// request of who for profile (ports.Lock.Matches), in the order given.
func Matching(all []ports.Lock, who ports.Identity, profile string, now time.Time) []ports.Lock {
	var out []ports.Lock
	for i := range all {
		if l := &all[i]; l.InForce(now) && l.Matches(who, profile) {
			out = append(out, *l)
		}
	}
	return out
}

// Checker implements ports.LockLookup on a LockStore with a bounded cache:
// one ListActiveLocks read serves every request (of any identity and
// profile). Safe for concurrent use; requests read the last snapshot
// without taking a lock.
//
// A long-running server calls Run: a loop then reads the locks every bound
// and requests never wait on the store (so the lock check adds nothing to
// a request's store budget, even while the store is slow or away). Without
// Run (a one-shot command, or before Run starts) a request that finds the
// snapshot stale reads the store itself, bounded by ReadBudget, and
// concurrent ones wait for that one read.
type Checker struct {
	store ports.LockStore
	bound time.Duration

	snap    atomic.Pointer[snapshot]
	running atomic.Bool // Run keeps snap fresh
	mu      sync.Mutex  // serialises the reads
}

// snapshot is what one read of the locks left.
type snapshot struct {
	triedAt time.Time // when the read was made (ok or not)
	// known is what the last successful read found, by what each lock
	// names, so a request looks at its own candidates only.
	known map[target][]ports.Lock
	err   error // this read's error, nil when it succeeded
}

// target is what a lock names: a user (name or ARN) or a profile.
type target struct {
	kind ports.LockKind
	name string
}

func index(all []ports.Lock) map[target][]ports.Lock {
	m := make(map[target][]ports.Lock, len(all))
	for _, l := range all {
		k := target{l.Kind, l.Target}
		m[k] = append(m[k], l)
	}
	return m
}

// matching is Matching on the candidates a snapshot holds for who and
// profile: the locks naming who's name, who's ARN or profile. Matching
// stays the judge, so the index can only narrow what it looks at.
func (s *snapshot) matching(who ports.Identity, profile string, now time.Time) []ports.Lock {
	var out []ports.Lock
	for _, k := range []target{{ports.LockUser, who.Name}, {ports.LockUser, who.ARN}, {ports.LockProfile, profile}} {
		if k.name != "" {
			out = append(out, Matching(s.known[k], who, profile, now)...)
		}
	}
	return out
}

// stale reports whether s must be read again at now: it is older than the
// bound, or now is before it (the clock moved back).
func (c *Checker) stale(s *snapshot, now time.Time) bool {
	return s == nil || now.Before(s.triedAt) || now.Sub(s.triedAt) >= c.bound
}

var _ ports.LockLookup = (*Checker)(nil)

// NewChecker returns a Checker reading store at most once per bound (Bound
// when bound is not positive).
func NewChecker(store ports.LockStore, bound time.Duration) *Checker {
	if bound <= 0 {
		bound = Bound
	}
	return &Checker{store: store, bound: bound}
}

// ActiveLocks returns the locks that refuse who for profile at now. When the
// last read is stale it reads the store first. When that read fails, it
// returns the error wrapped, together with the matching locks the last
// successful read found: a lock once seen keeps refusing while the store is
// away, whatever the caller decides about the error. A failed read is not
// retried within the bound either, so a store that is down costs one wait
// per bound, not one per request.
//
// Under Run, a snapshot older than two bounds plus ReadBudget means the loop
// cannot read (a read hangs past its budget): that is an error wrapping
// ports.ErrUnavailable, with the locks still known.
func (c *Checker) ActiveLocks(ctx context.Context, who ports.Identity, profile string, now time.Time) ([]ports.Lock, error) {
	s := c.snap.Load()
	if s != nil && c.running.Load() {
		if age := now.Sub(s.triedAt); age > 2*c.bound+ReadBudget {
			return s.matching(who, profile, now), fmt.Errorf("lock check: the locks were last read %s ago: %w",
				age.Round(time.Millisecond), ports.ErrUnavailable)
		}
		return s.matching(who, profile, now), s.err
	}
	if c.stale(s, now) {
		s = c.refresh(ctx, now)
	}
	return s.matching(who, profile, now), s.err
}

// Run reads the locks every bound, with clock's time, until ctx ends, so
// requests answer from memory. It returns when ctx is done.
func (c *Checker) Run(ctx context.Context, clock ports.Clock) {
	c.running.Store(true)
	defer c.running.Store(false)
	tick := time.NewTicker(c.bound)
	defer tick.Stop()
	for {
		c.mu.Lock()
		c.read(ctx, clock.Now())
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// refresh reads the locks unless another request did while this one waited.
func (c *Checker) refresh(ctx context.Context, now time.Time) *snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if last := c.snap.Load(); !c.stale(last, now) {
		return last
	}
	return c.read(ctx, now)
}

// read reads the locks at now and stores the snapshot; c.mu is held.
func (c *Checker) read(ctx context.Context, now time.Time) *snapshot {
	last := c.snap.Load()
	next := &snapshot{triedAt: now}
	if last != nil {
		next.known = last.known
	}
	// The timer is made only here, on a read: not on every request.
	rctx, cancel := context.WithTimeout(ctx, ReadBudget)
	all, err := c.store.ListActiveLocks(rctx, now)
	cancel()
	if err != nil {
		next.err = fmt.Errorf("lock check: %w", err)
	} else {
		next.known = index(all)
	}
	c.snap.Store(next)
	return next
}

// Target is how a lock names what it stops, for messages: "user alice",
// "profile prod".
func Target(l ports.Lock) string { return string(l.Kind) + " " + l.Target }

// Until says when l ends: its ExpiresAt, or "until unlocked".
func Until(l ports.Lock) string {
	if l.ExpiresAt.IsZero() {
		return "until unlocked"
	}
	return "until " + l.ExpiresAt.UTC().Format(time.RFC3339)
}
