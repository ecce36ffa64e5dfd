package approval

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

// UpdateWithRetry reads the request, applies mutate (one of Approve, Deny,
// Cancel, Expire, with its arguments bound), and writes the result
// conditionally on the version read; on ports.ErrConflict it reads again and
// retries. mutate sees the fresh record every time, so an approve racing a
// cancel is judged against whichever landed first, never a stale copy. A
// mutate error, or any store error but a conflict, is returned at once.
func UpdateWithRetry(ctx context.Context, store ports.ApprovalStore, id string,
	mutate func(ports.ApprovalRequest) (ports.ApprovalRequest, error),
) (ports.ApprovalRequest, error) {
	var lastConflict error
	for attempt := range MaxUpdateAttempts {
		if attempt > 0 {
			if err := pause(ctx, attempt); err != nil {
				return ports.ApprovalRequest{}, fmt.Errorf("update request %s: waiting to retry after a version conflict: %w", id, err)
			}
		}
		current, err := store.GetRequest(ctx, id)
		if err != nil {
			return ports.ApprovalRequest{}, err
		}
		next, err := mutate(current)
		if err != nil {
			return ports.ApprovalRequest{}, err
		}
		// The write is conditional on what was read, whatever mutate did.
		next.ID = current.ID
		next.Version = current.Version
		saved, err := store.UpdateRequest(ctx, next)
		if err == nil {
			return saved, nil
		}
		if !errors.Is(err, ports.ErrConflict) {
			return ports.ApprovalRequest{}, err
		}
		lastConflict = err
	}
	return ports.ApprovalRequest{}, fmt.Errorf("update request %s: gave up after %d conflicting attempts: %w", id, MaxUpdateAttempts, lastConflict)
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
