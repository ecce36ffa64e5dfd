// Package lock decides which locks refuse a request, and keeps the
// per-request check off the store: Checker re-reads the locks in force at
// most once per Bound, whatever the request rate.
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
// server re-reads them at most this often, so a new lock refuses its
// requests at most Bound (plus one store read) after it is created. The
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
// profile) for Bound. Safe for concurrent use: requests read the last
// snapshot without a lock, and those that find it stale wait for one read
// rather than each making their own.
type Checker struct {
	store ports.LockStore
	bound time.Duration

	snap atomic.Pointer[snapshot]
	mu   sync.Mutex // serialises the reads
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
func (c *Checker) ActiveLocks(ctx context.Context, who ports.Identity, profile string, now time.Time) ([]ports.Lock, error) {
	s := c.snap.Load()
	if c.stale(s, now) {
		s = c.refresh(ctx, now)
	}
	return s.matching(who, profile, now), s.err
}

// refresh reads the locks unless another request did while this one waited.
func (c *Checker) refresh(ctx context.Context, now time.Time) *snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	last := c.snap.Load()
	if !c.stale(last, now) {
		return last
	}
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
