// Package versioned is the one optimistic-locking loop of the core, shared
// by sessions, approval requests and break-glass events.
package versioned

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// MaxAttempts bounds Update: enough to outlast a burst of concurrent
// writers, few enough to give up on a livelock.
const MaxAttempts = 50

// maxBackoff caps the jittered pause between attempts.
const maxBackoff = 2 * time.Millisecond

// Record is what Update needs to know of a record type.
type Record[T any] struct {
	Noun string // "session", for messages
	Get  func(ctx context.Context, id string) (T, error)
	Put  func(ctx context.Context, rec T) (T, error) // conditional on the version
	// Pin copies the id and version of what was read into what is written,
	// so the write is conditional on the read whatever mutate did.
	Pin func(next *T, read T)
}

// Update reads the record, applies mutate, and writes the result
// conditionally on the version read; on ports.ErrConflict it reads again and
// retries after a short jittered pause. mutate sees the fresh record every
// time, so the state machine is re-checked on every attempt and a change that
// landed first (a revoke, a cancel) always wins. A mutate error, or any store
// error but a conflict, is returned at once.
func Update[T any](ctx context.Context, r Record[T], id string, mutate func(T) (T, error)) (T, error) {
	var zero T
	var lastConflict error
	for attempt := range MaxAttempts {
		if attempt > 0 {
			if err := pause(ctx, attempt); err != nil {
				return zero, fmt.Errorf("update %s %s: waiting to retry after a version conflict: %w", r.Noun, id, err)
			}
		}
		current, err := r.Get(ctx, id)
		if err != nil {
			return zero, err
		}
		next, err := mutate(current)
		if err != nil {
			return zero, err
		}
		r.Pin(&next, current)
		saved, err := r.Put(ctx, next)
		if err == nil {
			return saved, nil
		}
		if !errors.Is(err, ports.ErrConflict) {
			return zero, err
		}
		lastConflict = err
	}
	return zero, fmt.Errorf("update %s %s: gave up after %d conflicting attempts: %w", r.Noun, id, MaxAttempts, lastConflict)
}

// pause waits a random time that grows with the attempt, up to maxBackoff,
// so competing writers spread out.
func pause(ctx context.Context, attempt int) error {
	ceiling := min(time.Duration(attempt)*50*time.Microsecond, maxBackoff)
	timer := time.NewTimer(rand.N(ceiling) + time.Microsecond) //nolint:gosec // jitter needs no secrecy
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
