package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// MaxUpdateAttempts bounds UpdateWithRetry: enough to outlast a burst of
// concurrent touches, few enough to give up on a livelock.
const MaxUpdateAttempts = 50

// maxRetryBackoff caps the jittered pause between attempts.
const maxRetryBackoff = 2 * time.Millisecond

// UpdateWithRetry is the one optimistic-locking loop: read the session, apply
// mutate, write it back conditionally on the version read, and on
// ports.ErrConflict read again and retry. mutate sees the fresh record each
// time, so state-machine rules are re-checked on every attempt and a revoke
// that lands first always wins. A mutate error stops at once and is returned
// as is; so does any store error other than a conflict.
func UpdateWithRetry(ctx context.Context, store ports.SessionStore, id string,
	mutate func(ports.Session) (ports.Session, error),
) (ports.Session, error) {
	var lastConflict error
	for attempt := range MaxUpdateAttempts {
		if attempt > 0 {
			if err := pause(ctx, attempt); err != nil {
				return ports.Session{}, fmt.Errorf("update session %s: waiting to retry after a version conflict: %w", id, err)
			}
		}
		current, err := store.GetSession(ctx, id)
		if err != nil {
			return ports.Session{}, err
		}
		next, err := mutate(current)
		if err != nil {
			return ports.Session{}, err
		}
		// The write is conditional on what was read, whatever mutate did.
		next.ID = current.ID
		next.Version = current.Version
		saved, err := store.UpdateSession(ctx, next)
		if err == nil {
			return saved, nil
		}
		if !errors.Is(err, ports.ErrConflict) {
			return ports.Session{}, err
		}
		lastConflict = err
	}
	return ports.Session{}, fmt.Errorf("update session %s: gave up after %d conflicting attempts: %w",
		id, MaxUpdateAttempts, lastConflict)
}

// pause waits a random time that grows with the attempt, up to
// maxRetryBackoff, so competing writers spread out.
func pause(ctx context.Context, attempt int) error {
	ceiling := min(time.Duration(attempt)*50*time.Microsecond, maxRetryBackoff)
	timer := time.NewTimer(rand.N(ceiling) + time.Microsecond) //nolint:gosec // jitter needs no secrecy
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
