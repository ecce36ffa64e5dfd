package breakglass

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// MaxUpdateAttempts bounds UpdateWithRetry.
const MaxUpdateAttempts = 50

// maxRetryBackoff caps the jittered pause between attempts.
const maxRetryBackoff = 2 * time.Millisecond

// UpdateWithRetry reads the event, applies mutate (Close or Expire with its
// arguments bound), and writes the result conditionally on the version
// read; on ports.ErrConflict it reads again and retries, so a close racing
// an expiry is judged against whichever landed first. A mutate error, or
// any store error but a conflict, is returned at once.
func UpdateWithRetry(ctx context.Context, store ports.BreakGlassStore, id string,
	mutate func(ports.BreakGlassEvent) (ports.BreakGlassEvent, error),
) (ports.BreakGlassEvent, error) {
	var lastConflict error
	for attempt := range MaxUpdateAttempts {
		if attempt > 0 {
			if err := pause(ctx, attempt); err != nil {
				return ports.BreakGlassEvent{}, fmt.Errorf("update break-glass %s: waiting to retry after a version conflict: %w", id, err)
			}
		}
		current, err := store.GetBreakGlass(ctx, id)
		if err != nil {
			return ports.BreakGlassEvent{}, err
		}
		next, err := mutate(current)
		if err != nil {
			return ports.BreakGlassEvent{}, err
		}
		// The write is conditional on what was read, whatever mutate did.
		next.ID = current.ID
		next.Version = current.Version
		saved, err := store.UpdateBreakGlass(ctx, next)
		if err == nil {
			return saved, nil
		}
		if !errors.Is(err, ports.ErrConflict) {
			return ports.BreakGlassEvent{}, err
		}
		lastConflict = err
	}
	return ports.BreakGlassEvent{}, fmt.Errorf("update break-glass %s: gave up after %d conflicting attempts: %w", id, MaxUpdateAttempts, lastConflict)
}

// pause waits a random time that grows with the attempt, up to maxRetryBackoff.
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
