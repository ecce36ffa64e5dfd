package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/core/lock"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// LockedError: a lock (sentinel lock) covers the caller or the profile.
// Nothing lifts it but its end: not policy, not an approval, not
// break-glass.
type LockedError struct {
	Lock ports.Lock
}

func (e *LockedError) Error() string {
	l := e.Lock
	by := l.CreatedBy
	if by == "" {
		by = "(unknown)"
	}
	return fmt.Sprintf("%s is locked by %s %s: %s (lock %s; it ends when it runs out or someone runs sentinel unlock %s)",
		lock.Target(l), by, lock.Until(l), l.Reason, l.ID, l.ID)
}

// CheckLocks refuses when a lock covers this gateway's caller or profile
// now. exec --server calls it before it starts; Issue calls it on every
// request. With no lock lookup wired it allows.
func (g *Gateway) CheckLocks(ctx context.Context) error {
	return g.checkLocks(ctx, g.deps.Clock.Now())
}

// checkLocks reads the locks through Deps.Locks (lock.Checker: at most one
// store read per lock.Bound, bounded by lock.ReadBudget). A lock it knows
// of refuses even when the read failed; a failed read with no known lock
// refuses under --on-store-error=deny and serves, with a warning, otherwise.
func (g *Gateway) checkLocks(ctx context.Context, now time.Time) error {
	if g.deps.Locks == nil {
		return nil
	}
	locks, err := g.deps.Locks.ActiveLocks(ctx, g.cfg.Identity, g.cfg.Profile, now)
	if len(locks) > 0 {
		return &LockedError{Lock: locks[0]}
	}
	if err == nil {
		return nil
	}
	if g.cfg.OnStoreError == session.StoreErrorDeny {
		// The locks live in the session store: the same refusal as the
		// revocation check's, so a caller sees one answer for one outage.
		return &StoreError{Err: err}
	}
	g.deps.Logger.Warn("lock check failed; serving (--on-store-error=allow)", "error", err)
	return nil
}
