// Package lock decides which locks refuse a request, and keeps the
// per-request check off the store: Checker re-reads the locks in force at
// most once per Bound, whatever the request rate.
package lock

import (
	"context"
	"fmt"
	"sync"
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
	for _, l := range all {
		if l.InForce(now) && l.Matches(who, profile) {
			out = append(out, l)
		}
	}
	return out
}

// Checker implements ports.LockLookup on a LockStore with a bounded cache:
// one ListActiveLocks read serves every request (of any identity and
// profile) for Bound. Safe for concurrent use; concurrent requests that
// find the cache stale wait for one read rather than each making their own.
type Checker struct {
	store ports.LockStore
	bound time.Duration

	mu      sync.Mutex
	triedAt time.Time    // when the last read was made (ok or not)
	tried   bool         // a read was made
	known   []ports.Lock // what the last successful read found
	lastErr error        // the last read's error, nil when it succeeded
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
// last read is older than the bound (or now is before it: the clock moved
// back) it reads the store first. When that read fails, it returns the
// error wrapped, together with the matching locks the last successful read
// found: a lock once seen keeps refusing while the store is away, whatever
// the caller decides about the error. A failed read is not retried within
// the bound either, so a store that is down costs one wait per bound, not
// one per request.
func (c *Checker) ActiveLocks(ctx context.Context, who ports.Identity, profile string, now time.Time) ([]ports.Lock, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tried || now.Before(c.triedAt) || now.Sub(c.triedAt) >= c.bound {
		c.tried, c.triedAt = true, now
		// The timer is made only here, on a read: not on every request.
		rctx, cancel := context.WithTimeout(ctx, ReadBudget)
		all, err := c.store.ListActiveLocks(rctx, now)
		cancel()
		if err != nil {
			c.lastErr = fmt.Errorf("lock check: %w", err)
		} else {
			c.known, c.lastErr = all, nil
		}
	}
	return Matching(c.known, who, profile, now), c.lastErr
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
