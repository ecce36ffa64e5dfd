package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/sentinel-gw/sentinel/ports"
)

// Bounds of a bulk revoke.
const (
	// BulkWorkers is how many revokes run at once: enough to overlap the
	// store's round trips, few enough not to trip DynamoDB's throttling or
	// exhaust a Redis connection pool (go-redis keeps 10 per CPU by default).
	BulkWorkers = 16
	// BulkConfirmers is how many confirmation waits run at once. A wait
	// mostly sleeps (DynamoDB) or holds one pub/sub connection (Redis), so
	// it can be wider than BulkWorkers, but not one per session: a revoke of
	// 10,000 sessions must not open 10,000 connections.
	BulkConfirmers = 128
	// bulkPage is the listing page size.
	bulkPage = ports.MaxPageLimit
)

// BulkRevoke ends every active session of one user or one profile.
type BulkRevoke struct {
	// User or Profile (exactly one) selects the sessions.
	User, Profile string
	// By and Reason are recorded on every revoked session.
	By, Reason string
	// Confirm, when not nil, waits (bounded by the caller) until the running
	// server of a revoked session has it. Confirmations run concurrently, up
	// to BulkConfirmers at once, while later sessions are still being
	// revoked; Run returns only after every one has finished.
	Confirm func(ctx context.Context, s ports.Session)
	// Workers bounds the revokes in flight; 0 means BulkWorkers.
	Workers int
	// Keep, when set, narrows the selection further (a broker revokes a
	// non-admin's own sessions: those with the caller's ARN).
	Keep func(ports.Session) bool
}

// BulkResult is what a bulk revoke did.
type BulkResult struct {
	// Revoked lists the sessions this run revoked, newest first.
	Revoked []ports.Session
	// Failed holds one error per session that could not be revoked.
	Failed []error
}

// What names the selection for messages: "user alice" or "profile prod".
func (b BulkRevoke) What() string {
	if b.User != "" {
		return "user " + b.User
	}
	return "profile " + b.Profile
}

// Run revokes every session of the selection that is active when it is
// reached, paging through the whole listing. The listing is newest first and
// each page resumes strictly after the previous one's last position, so
// sessions created while Run works sort ahead of the cursor and can never
// push an older session out of reach: every session that existed when Run
// started is reached however many arrive meanwhile, and Run ends.
//
// Each revoke is session.UpdateWithRetry with Revoke, so the state machine
// is re-checked on the fresh record; a session that ended in between is not
// a failure. Up to Workers revokes run at once. The returned error is a bad
// selection (wrapping ports.ErrInvalidArgument) or a listing failure; the
// result then holds what was revoked before it. Per-session failures are in
// BulkResult.Failed, not the error.
func (b BulkRevoke) Run(ctx context.Context, store ports.SessionStore, clock ports.Clock) (BulkResult, error) {
	list, err := b.lister(ctx, store)
	if err != nil {
		return BulkResult{}, err
	}
	workers := b.Workers
	if workers <= 0 {
		workers = BulkWorkers
	}

	var (
		mu     sync.Mutex
		res    BulkResult
		work   = make(chan ports.Session)
		revs   sync.WaitGroup
		confs  sync.WaitGroup
		permit = make(chan struct{}, BulkConfirmers)
	)
	for range workers {
		revs.Go(func() {
			for s := range work {
				saved, err := UpdateWithRetry(ctx, store, s.ID, func(cur ports.Session) (ports.Session, error) {
					return Revoke(cur, b.By, b.Reason, clock.Now())
				})
				mu.Lock()
				switch {
				case err == nil:
					res.Revoked = append(res.Revoked, saved)
				case errors.Is(err, ports.ErrInvalidTransition):
					// Ended in between (another revoke, a lapsed lease): nothing to do.
				default:
					res.Failed = append(res.Failed, fmt.Errorf("session %s: %w", s.ID, err))
				}
				mu.Unlock()
				if err != nil || b.Confirm == nil {
					continue
				}
				// The wait for a permit is the confirmer's, never the
				// worker's: confirmations must not hold up revokes.
				confs.Go(func() {
					permit <- struct{}{}
					defer func() { <-permit }()
					b.Confirm(ctx, saved)
				})
			}
		})
	}

	listErr := b.feed(ctx, list, work)
	close(work)
	revs.Wait()
	confs.Wait()
	ports.SortByPosition(res.Revoked, ports.SessionPosition)
	return res, listErr
}

// feed pages through the listing, sending every active session to work.
func (b BulkRevoke) feed(ctx context.Context, list func(ports.Page) (ports.SessionPage, error),
	work chan<- ports.Session,
) error {
	page := ports.Page{Limit: bulkPage}
	for {
		p, err := list(page)
		if err != nil {
			return fmt.Errorf("list the sessions of %s: %w", b.What(), err)
		}
		for _, s := range p.Sessions {
			if s.Status != ports.SessionActive || (b.Keep != nil && !b.Keep(s)) {
				continue
			}
			select {
			case work <- s:
			case <-ctx.Done():
				return fmt.Errorf("revoke the sessions of %s: %w", b.What(), ctx.Err())
			}
		}
		if p.Next == "" {
			return nil
		}
		page.Cursor = p.Next
	}
}

// lister picks the store's index for the selection.
func (b BulkRevoke) lister(ctx context.Context, store ports.SessionStore) (func(ports.Page) (ports.SessionPage, error), error) {
	switch {
	case (b.User == "") == (b.Profile == ""):
		return nil, fmt.Errorf("bulk revoke: give exactly one of a user or a profile: %w", ports.ErrInvalidArgument)
	case strings.TrimSpace(b.By) == "" || strings.TrimSpace(b.Reason) == "":
		return nil, fmt.Errorf("bulk revoke of %s: who revokes and why are required: %w", b.What(), ports.ErrInvalidArgument)
	}
	// A store that lists active sessions alone spares the walk through the
	// selection's ended history, which only grows.
	if active, ok := store.(ports.ActiveSessionLister); ok {
		if b.User != "" {
			return func(p ports.Page) (ports.SessionPage, error) { return active.ListActiveSessionsByUser(ctx, b.User, p) }, nil
		}
		return func(p ports.Page) (ports.SessionPage, error) {
			return active.ListActiveSessionsByProfile(ctx, b.Profile, p)
		}, nil
	}
	if b.User != "" {
		return func(p ports.Page) (ports.SessionPage, error) { return store.ListSessionsByUser(ctx, b.User, p) }, nil
	}
	return func(p ports.Page) (ports.SessionPage, error) { return store.ListSessionsByProfile(ctx, b.Profile, p) }, nil
}
