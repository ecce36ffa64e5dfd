package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

func TestUpdateWithRetryAppliesMutation(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	ctx := context.Background()
	if _, err := store.CreateSession(ctx, activeSession()); err != nil {
		t.Fatal(err)
	}
	got, err := UpdateWithRetry(ctx, store, testID, func(s ports.Session) (ports.Session, error) {
		return Revoke(s, "bob", "incident 42", clock.Now())
	})
	if err != nil {
		t.Fatalf("UpdateWithRetry: %v", err)
	}
	if got.Status != ports.SessionRevoked || got.Version != 2 {
		t.Fatalf("got %+v, want revoked at version 2", got)
	}
	stored, _ := store.GetSession(ctx, testID)
	if stored.Status != ports.SessionRevoked || stored.RevokedBy != "bob" {
		t.Fatalf("stored %+v, want the revoke written", stored)
	}
}

func TestUpdateWithRetryStopsOnMutateError(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	ctx := context.Background()
	if _, err := store.CreateSession(ctx, activeSession()); err != nil {
		t.Fatal(err)
	}
	refusal := errors.New("refused by rule")
	calls := 0
	_, err := UpdateWithRetry(ctx, store, testID, func(ports.Session) (ports.Session, error) {
		calls++
		return ports.Session{}, refusal
	})
	if !errors.Is(err, refusal) || calls != 1 {
		t.Fatalf("err = %v after %d calls, want the mutate error after 1", err, calls)
	}
	stored, _ := store.GetSession(ctx, testID)
	if stored.Version != 1 {
		t.Fatalf("version %d: a refused mutation wrote anyway", stored.Version)
	}
}

func TestUpdateWithRetryNotFound(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	calls := 0
	_, err := UpdateWithRetry(context.Background(), store, testID, func(s ports.Session) (ports.Session, error) {
		calls++
		return s, nil
	})
	if !errors.Is(err, ports.ErrNotFound) || calls != 0 {
		t.Fatalf("err = %v, mutate calls %d; want ErrNotFound and no call", err, calls)
	}
}

// A concurrent touch lands between each read and write: the loop must re-read
// (keeping the touches) rather than overwrite them.
func TestUpdateWithRetryRereadsAfterConflict(t *testing.T) {
	t.Parallel()
	inner, clock := newStore(t)
	ctx := context.Background()
	if _, err := inner.CreateSession(ctx, activeSession()); err != nil {
		t.Fatal(err)
	}
	interruptions := 3
	store := &faultStore{inner: inner, clock: clock}
	store.beforeUpdate = func(ctx context.Context, in ports.SessionStore, s ports.Session) {
		if interruptions > 0 {
			interruptions--
			if _, err := in.TouchSession(ctx, s.ID, clock.Now(), 10); err != nil {
				t.Errorf("touch: %v", err)
			}
		}
	}
	calls := 0
	got, err := UpdateWithRetry(ctx, store, testID, func(s ports.Session) (ports.Session, error) {
		calls++
		return Heartbeat(s, clock.Now(), 2*time.Minute)
	})
	if err != nil {
		t.Fatalf("UpdateWithRetry: %v", err)
	}
	if calls != 4 {
		t.Errorf("mutate ran %d times, want 4 (3 conflicts, then success)", calls)
	}
	if got.RequestCount != 30 {
		t.Errorf("RequestCount = %d, want the 30 touched meanwhile", got.RequestCount)
	}
	if !got.ExpiresAt.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("ExpiresAt = %s, want the heartbeat applied", got.ExpiresAt)
	}
}

// A revoke landing between the heartbeat's read and write must win.
func TestUpdateWithRetryRechecksRulesAfterConflict(t *testing.T) {
	t.Parallel()
	inner, clock := newStore(t)
	ctx := context.Background()
	if _, err := inner.CreateSession(ctx, activeSession()); err != nil {
		t.Fatal(err)
	}
	store := &faultStore{inner: inner, clock: clock}
	revoked := false
	store.beforeUpdate = func(ctx context.Context, in ports.SessionStore, _ ports.Session) {
		if revoked {
			return
		}
		revoked = true
		if _, err := UpdateWithRetry(ctx, in, testID, func(s ports.Session) (ports.Session, error) {
			return Revoke(s, "bob", "incident", clock.Now())
		}); err != nil {
			t.Errorf("revoke: %v", err)
		}
	}
	_, err := UpdateWithRetry(ctx, store, testID, func(s ports.Session) (ports.Session, error) {
		return Heartbeat(s, clock.Now(), time.Minute)
	})
	if !errors.Is(err, ports.ErrInvalidTransition) {
		t.Fatalf("heartbeat after a racing revoke: err = %v, want ErrInvalidTransition", err)
	}
	stored, _ := inner.GetSession(ctx, testID)
	if stored.Status != ports.SessionRevoked {
		t.Fatalf("stored status %s, want revoked", stored.Status)
	}
}

func TestUpdateWithRetryGivesUp(t *testing.T) {
	t.Parallel()
	inner, clock := newStore(t)
	ctx := context.Background()
	if _, err := inner.CreateSession(ctx, activeSession()); err != nil {
		t.Fatal(err)
	}
	store := &faultStore{inner: inner, clock: clock}
	store.beforeUpdate = func(ctx context.Context, in ports.SessionStore, s ports.Session) {
		_, _ = in.TouchSession(ctx, s.ID, clock.Now(), 1)
	}
	calls := 0
	_, err := UpdateWithRetry(ctx, store, testID, func(s ports.Session) (ports.Session, error) {
		calls++
		return s, nil
	})
	if !errors.Is(err, ports.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if calls != MaxUpdateAttempts || store.updateCount() != MaxUpdateAttempts {
		t.Fatalf("%d mutations, %d updates; want %d of each", calls, store.updateCount(), MaxUpdateAttempts)
	}
}

func TestUpdateWithRetryHonoursCancellation(t *testing.T) {
	t.Parallel()
	inner, clock := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := inner.CreateSession(ctx, activeSession()); err != nil {
		t.Fatal(err)
	}
	store := &faultStore{inner: inner, clock: clock}
	store.beforeUpdate = func(ctx context.Context, in ports.SessionStore, s ports.Session) {
		_, _ = in.TouchSession(ctx, s.ID, clock.Now(), 1)
		cancel()
	}
	_, err := UpdateWithRetry(ctx, store, testID, func(s ports.Session) (ports.Session, error) { return s, nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if store.updateCount() != 1 {
		t.Fatalf("%d updates after cancellation, want 1", store.updateCount())
	}
}

// The mutation cannot move the write off the version it read.
func TestUpdateWithRetryIgnoresMutatedVersion(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	ctx := context.Background()
	if _, err := store.CreateSession(ctx, activeSession()); err != nil {
		t.Fatal(err)
	}
	got, err := UpdateWithRetry(ctx, store, testID, func(s ports.Session) (ports.Session, error) {
		s.Version = 99
		s.ID = "someone-else"
		s.User = "mallory"
		return s, nil
	})
	if err != nil || got.Version != 2 || got.ID != testID || got.User != "mallory" {
		t.Fatalf("got %+v, %v; want version 2 of %s", got, err, testID)
	}
}

// Touches and heartbeats race a revoke; the revoke always sticks and no
// touch is lost.
func TestRevokeAlwaysSticksUnderTouchRace(t *testing.T) {
	t.Parallel()
	const rounds, touchers, touchesEach = 1000, 4, 5
	store, clock := newStore(t)
	ctx := context.Background()
	for round := range rounds {
		s := activeSession()
		s.ID = fmt.Sprintf("%032x", round)
		if _, err := store.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var revokeErr error
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			_, revokeErr = UpdateWithRetry(ctx, store, s.ID, func(cur ports.Session) (ports.Session, error) {
				return Revoke(cur, "bob", "race", clock.Now())
			})
		})
		for range touchers {
			wg.Go(func() {
				<-start
				for range touchesEach {
					if _, err := store.TouchSession(ctx, s.ID, clock.Now(), 1); err != nil {
						t.Errorf("touch: %v", err)
					}
				}
			})
		}
		wg.Go(func() {
			<-start
			_, err := UpdateWithRetry(ctx, store, s.ID, func(cur ports.Session) (ports.Session, error) {
				return Heartbeat(cur, clock.Now(), time.Minute)
			})
			// Before the revoke it renews; after, the rules refuse it.
			if err != nil && !errors.Is(err, ports.ErrInvalidTransition) {
				t.Errorf("heartbeat: %v", err)
			}
		})
		close(start)
		wg.Wait()
		if revokeErr != nil {
			t.Fatalf("round %d: revoke: %v", round, revokeErr)
		}
		got, err := store.GetSession(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != ports.SessionRevoked || got.RevokedBy != "bob" || got.RevokedReason != "race" {
			t.Fatalf("round %d: status %s by %q: the revoke was undone", round, got.Status, got.RevokedBy)
		}
		if got.RequestCount != touchers*touchesEach {
			t.Fatalf("round %d: RequestCount %d, want %d", round, got.RequestCount, touchers*touchesEach)
		}
	}
}
