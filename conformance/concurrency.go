package conformance

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Sizes of the races. -short cuts the long ones for quick local runs; CI runs
// them in full.
const (
	racers             = 8
	conditionalRounds  = 20
	touchRevokeRounds  = 1000
	touchRevokeWorkers = 8
	touchesPerRound    = 2
	expiryRevokeRounds = 100
	touchesPerRacer    = 50
)

func rounds(full, short int) int {
	if testing.Short() {
		return short
	}
	return full
}

// raceRounds is how many rounds a race of the approval or break-glass store
// runs: full, or a tenth (at least two) under -short.
func (s suite) raceRounds(full int) int { return rounds(full, max(full/10, 2)) }

func (s suite) testConcurrency(t *testing.T) {
	t.Run("ConditionalUpdateOneWinner", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		id := e.create(t, e.newSession()).ID
		for round := range conditionalRounds {
			cur := e.get(t, id)
			errs := make([]error, racers)
			race(racers, func(w int) {
				next := cur
				next.SourceIdentity = fmt.Sprintf("racer-%d-round-%d", w, round)
				next.RequestCount++
				_, errs[w] = e.store.UpdateSession(t.Context(), next)
			})
			winner := -1
			for w, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Fatalf("round %d: racers %d and %d both updated from version %d", round, winner, w, cur.Version)
				case err == nil:
					winner = w
				case !errors.Is(err, ports.ErrConflict):
					t.Fatalf("round %d: racer %d: %v, want nil or ErrConflict", round, w, err)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: no racer won from version %d", round, cur.Version)
			}
			got := e.get(t, id)
			if want := fmt.Sprintf("racer-%d-round-%d", winner, round); got.Version != cur.Version+1 || got.SourceIdentity != want {
				t.Fatalf("round %d: stored version %d source %q, want version %d source %q", round, got.Version, got.SourceIdentity, cur.Version+1, want)
			}
		}
	})

	t.Run("CreateSameIDOneWinner", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		for round := range conditionalRounds {
			base := e.newSession()
			errs := make([]error, racers)
			race(racers, func(w int) {
				mine := base
				mine.SourceIdentity = fmt.Sprintf("creator-%d", w)
				_, errs[w] = e.store.CreateSession(t.Context(), mine)
			})
			winner := -1
			for w, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Fatalf("round %d: creators %d and %d both created %s", round, winner, w, base.ID)
				case err == nil:
					winner = w
				case !errors.Is(err, ports.ErrAlreadyExists):
					t.Fatalf("round %d: creator %d: %v, want nil or ErrAlreadyExists", round, w, err)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: no creator won", round)
			}
			if got := e.get(t, base.ID); got.SourceIdentity != fmt.Sprintf("creator-%d", winner) || got.Version != 1 {
				t.Fatalf("round %d: stored source %q version %d, want the winner's (creator-%d) at version 1", round, got.SourceIdentity, got.Version, winner)
			}
		}
	})

	t.Run("TouchesAreAtomic", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		created := e.create(t, e.newSession())
		start := e.clock.Now()
		// Every touch has its own time; the latest must win whatever the order.
		at := func(w, i int) time.Time { return start.Add(time.Duration(w*touchesPerRacer+i+1) * time.Millisecond) }
		race(racers, func(w int) {
			for i := range touchesPerRacer {
				if _, err := e.store.TouchSession(t.Context(), created.ID, at(w, i), 1); err != nil {
					t.Errorf("racer %d touch %d: %v", w, i, err)
					return
				}
			}
		})
		got := e.get(t, created.ID)
		touches := int64(racers * touchesPerRacer)
		if got.RequestCount != created.RequestCount+touches || got.Version != 1+touches {
			t.Errorf("after %d concurrent touches: request count %d version %d, want %d and %d",
				touches, got.RequestCount, got.Version, created.RequestCount+touches, 1+touches)
		}
		if latest := at(racers-1, touchesPerRacer-1); !got.LastAccessAt.Equal(latest) {
			t.Errorf("LastAccessAt after concurrent touches = %s, want the latest touch %s", got.LastAccessAt, latest)
		}
	})

	t.Run("TouchRacingRevoke", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		total := rounds(touchRevokeRounds, touchRevokeRounds/10)
		began := time.Now() // wall time, only to report the cost of the race
		var wg sync.WaitGroup
		for w := range touchRevokeWorkers {
			wg.Go(func() {
				for r := w; r < total; r += touchRevokeWorkers {
					if err := touchRacingRevokeRound(t, e, r); err != nil {
						t.Errorf("round %d: %v", r, err)
						return
					}
				}
			})
		}
		wg.Wait()
		t.Logf("%d touch-versus-revoke rounds in %s", total, time.Since(began).Round(time.Millisecond))
	})

	t.Run("ExpiryRacingRevoke", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		for r := range rounds(expiryRevokeRounds, expiryRevokeRounds/10) {
			ses := e.newSession()
			ses.ExpiresAt = e.clock.Now().Add(-time.Second)
			created := e.create(t, ses)
			var revokeErr, sweepErr error
			var swept int
			race(2, func(w int) {
				if w == 0 {
					_, revokeErr = e.store.UpdateSession(t.Context(), revoked(created, e.ns+"-admin", e.clock.Now()))
					return
				}
				swept, sweepErr = e.store.ExpireLapsedSessions(t.Context(), e.clock.Now())
			})
			if sweepErr != nil {
				t.Fatalf("round %d: ExpireLapsedSessions: %v", r, sweepErr)
			}
			got := e.get(t, created.ID)
			switch {
			case revokeErr == nil && swept == 0 && got.Status == ports.SessionRevoked && got.Version == 2:
			case errors.Is(revokeErr, ports.ErrConflict) && swept == 1 && got.Status == ports.SessionExpired && got.Version == 2:
			default:
				t.Fatalf("round %d: revoke error %v, sweep changed %d, stored %q version %d; want exactly one of them to win",
					r, revokeErr, swept, got.Status, got.Version)
			}
		}
	})
}

// touchRacingRevokeRound races a revoker (read, conditional write, retry on
// conflict) against a toucher on a fresh session; afterwards the session must
// be revoked and every touch counted.
func touchRacingRevokeRound(t *testing.T, e env, round int) error {
	ctx := t.Context()
	created, err := e.store.CreateSession(ctx, e.newSession())
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	admin := fmt.Sprintf("%s-admin-%d", e.ns, round)
	at := e.clock.Now().Add(time.Duration(round+1) * time.Millisecond)
	var revokeErr, touchErr error
	race(2, func(w int) {
		if w == 0 {
			_, revokeErr = revokeWithRetry(ctx, e.store, created.ID, admin, e.clock.Now())
			return
		}
		for i := range touchesPerRound {
			if _, err := e.store.TouchSession(ctx, created.ID, at.Add(time.Duration(i)*time.Microsecond), 1); err != nil {
				touchErr = err
				return
			}
		}
	})
	if revokeErr != nil || touchErr != nil {
		return fmt.Errorf("touch/revoke race: %w", errors.Join(revokeErr, touchErr))
	}
	got, err := e.store.GetSession(ctx, created.ID)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	wantCount := created.RequestCount + touchesPerRound
	lastTouch := at.Add(time.Duration(touchesPerRound-1) * time.Microsecond)
	if got.Status != ports.SessionRevoked || got.RevokedBy != admin || got.RequestCount != wantCount ||
		got.Version != 1+touchesPerRound+1 || !got.LastAccessAt.Equal(lastTouch) {
		return fmt.Errorf("stored status %q by %q, request count %d, version %d, last access %s; want revoked by %q, %d, %d, %s",
			got.Status, got.RevokedBy, got.RequestCount, got.Version, got.LastAccessAt, admin, wantCount, 1+touchesPerRound+1, lastTouch)
	}
	return nil
}

// race runs f(0..n-1) on n goroutines released together, and waits for all.
func race(n int, f func(w int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			<-start
			f(w)
		})
	}
	close(start)
	wg.Wait()
}
