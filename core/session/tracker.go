package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/ports"
)

// Tracker defaults.
const (
	DefaultHeartbeatInterval  = 20 * time.Second
	DefaultLease              = 60 * time.Second
	DefaultTouchFlushInterval = time.Second
)

// TrackerConfig tunes a Tracker; a zero or negative field takes its default.
// Lease should be a few heartbeats long so one slow heartbeat does not lapse it.
type TrackerConfig struct {
	HeartbeatInterval  time.Duration
	Lease              time.Duration
	TouchFlushInterval time.Duration
	// RestoreInterval is the least time between two write-backs of a record
	// found missing (default DefaultResync).
	RestoreInterval time.Duration
}

func (c TrackerConfig) withDefaults() TrackerConfig {
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.TouchFlushInterval <= 0 {
		c.TouchFlushInterval = DefaultTouchFlushInterval
	}
	if c.RestoreInterval <= 0 {
		c.RestoreInterval = DefaultResync
	}
	return c
}

// Tracker keeps a running server's session record: it creates it, counts
// requests in memory and flushes them, renews the lease, and marks the
// session expired on Stop. Its failures are logged, never fatal: the
// per-request revocation check, not the tracker, is what refuses requests.
type Tracker struct {
	store  ports.SessionStore
	clock  ports.Clock
	cfg    TrackerConfig
	logger *slog.Logger

	// pending counts requests not yet written; Touch only adds to it.
	pending atomic.Int64

	mu      sync.Mutex
	id      string
	last    ports.Session // the newest record the store returned
	revoked revokedState
	expired bool
	// restoredAt is the last write-back of a missing record asked for;
	// restore wakes the loop to do it.
	restoredAt time.Time
	restore    chan struct{}
	started    bool
	stopped    bool
	// stop asks the loop to end after the step it is in; a step is never
	// cut short, since a write cut after it lands would count twice.
	stop chan struct{}
	done chan struct{}
}

type revokedState struct {
	by, reason string
	at         time.Time
	ok         bool
}

// NewTracker returns a tracker for one session; logger may be nil.
func NewTracker(store ports.SessionStore, clock ports.Clock, cfg TrackerConfig, logger *slog.Logger) *Tracker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Tracker{store: store, clock: clock, cfg: cfg.withDefaults(), logger: logger, restore: make(chan struct{}, 1)}
}

// Start creates the session record (active, leased until now+Lease) and
// starts the background flush and heartbeat loop. An empty s.ID gets a new
// id. The loop outlives ctx's cancellation; only Stop ends it.
func (t *Tracker) Start(ctx context.Context, s ports.Session) (ports.Session, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return ports.Session{}, fmt.Errorf("start session tracking: already started for session %s", t.id)
	}
	if s.ID == "" {
		id, err := record.NewID()
		if err != nil {
			return ports.Session{}, fmt.Errorf("start session tracking: %w", err)
		}
		s.ID = id
	} else if err := record.ValidateID("session", s.ID); err != nil {
		return ports.Session{}, fmt.Errorf("start session tracking: %w", err)
	}

	now := t.clock.Now()
	s.Status = ports.SessionActive
	if s.StartedAt.IsZero() {
		s.StartedAt = now
	}
	s.CreatedAt = now
	s.UpdatedAt = now
	s.ExpiresAt = now.Add(t.cfg.Lease)
	s.RevokedBy, s.RevokedReason, s.RevokedAt = "", "", time.Time{}
	s.Version = 0
	created, err := t.store.CreateSession(ctx, s)
	if err != nil {
		return ports.Session{}, fmt.Errorf("start session tracking: create session %s: %w", s.ID, err)
	}

	t.id = created.ID
	t.last = created
	t.started = true
	t.stop, t.done = make(chan struct{}), make(chan struct{})
	go t.run(context.WithoutCancel(ctx), t.stop, t.done)
	return created, nil
}

// Touch records n served requests. It only adds to an atomic counter, so it
// is cheap on the request path; the loop writes the counts.
func (t *Tracker) Touch(n int64) {
	if n > 0 {
		t.pending.Add(n)
	}
}

// Pending is how many touched requests are not yet in the store.
func (t *Tracker) Pending() int64 { return t.pending.Load() }

// ID is the tracked session's id; empty before Start.
func (t *Tracker) ID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.id
}

// Session is the newest record the tracker has seen.
func (t *Tracker) Session() ports.Session {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// Revoked reports the revocation the tracker has seen. Once seen it is
// remembered for good: a session seen revoked stays refused even if its
// record later vanishes or is rewritten.
func (t *Tracker) Revoked() (by, reason string, at time.Time, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.revoked.by, t.revoked.reason, t.revoked.at, t.revoked.ok
}

// Expired reports whether the tracker has seen its session expired or lapsed.
func (t *Tracker) Expired() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.expired
}

// Observe records a copy of the session read elsewhere (the per-request
// revocation check, the View), so a revoke seen there is remembered here too.
func (t *Tracker) Observe(s ports.Session) {
	t.remember(s)
}

// Missing reports a read that found no record. The record is a store fault
// to repair at once, not at the next heartbeat: the loop writes it back (as
// revoked or expired if the session has ended), at most once per
// RestoreInterval; each write-back is logged once. Missing never blocks.
func (t *Tracker) Missing() {
	if !t.noteMissing() {
		return
	}
	select {
	case t.restore <- struct{}{}:
	default: // a write-back is already pending
	}
}

// noteMissing reports whether a write-back of the missing record is due, and
// if so notes that it is under way.
func (t *Tracker) noteMissing() bool {
	now := t.clock.Now()
	t.mu.Lock()
	if t.id == "" || t.stopped {
		t.mu.Unlock()
		return false
	}
	due := t.restoredAt.IsZero() || now.Sub(t.restoredAt) >= t.cfg.RestoreInterval
	if due {
		t.restoredAt = now
	}
	t.mu.Unlock()
	return due
}

// restoreRecord writes the record back if the store has lost it.
func (t *Tracker) restoreRecord(ctx context.Context) error {
	return t.recreate(ctx, t.clock.Now())
}

// Flush writes the pending request count with one TouchSession. On failure
// the count stays pending for the next flush, so no request goes uncounted
// (a write that fails after landing may count twice; never zero times).
func (t *Tracker) Flush(ctx context.Context) error {
	id := t.ID()
	if id == "" {
		return nil
	}
	n := t.pending.Swap(0)
	if n == 0 {
		return nil
	}
	written := false
	defer func() {
		if !written {
			t.pending.Add(n)
		}
	}()
	// LastAccessAt is the flush time: at most one flush interval late.
	s, err := t.store.TouchSession(ctx, id, t.clock.Now(), n)
	if err != nil {
		return fmt.Errorf("flush %d request(s) of session %s: %w", n, id, err)
	}
	written = true
	t.remember(s)
	return nil
}

// Heartbeat renews the lease. A record found revoked is remembered; one found
// expired (its lease lapsed, e.g. while the machine slept) is left expired; a
// record found missing is recreated with the same id and the counts known.
// Once the session is revoked or expired, Heartbeat does nothing.
func (t *Tracker) Heartbeat(ctx context.Context) error {
	t.mu.Lock()
	id, terminal := t.id, t.revoked.ok || t.expired
	t.mu.Unlock()
	if id == "" || terminal {
		return nil
	}

	now := t.clock.Now()
	var seen ports.Session
	saved, err := UpdateWithRetry(ctx, t.store, id, func(s ports.Session) (ports.Session, error) {
		seen = s
		return Heartbeat(s, now, t.cfg.Lease)
	})
	switch {
	case err == nil:
		t.remember(saved)
		return nil
	case errors.Is(err, ports.ErrNotFound):
		t.noteMissing() // written back here: no second write-back right after
		return t.recreate(ctx, now)
	case errors.Is(err, ports.ErrInvalidTransition):
		t.remember(seen)
		if seen.Status == ports.SessionRevoked {
			t.logger.Warn("session revoked; refusing its requests from now on",
				"session_id", id, "revoked_by", seen.RevokedBy, "revoked_reason", seen.RevokedReason,
				"revoked_at", seen.RevokedAt)
		} else {
			t.logger.Warn("session lease lapsed before the heartbeat (did the machine sleep?); leaving it expired",
				"session_id", id, "expired_at", seen.ExpiresAt, "now", now)
		}
		return nil
	default:
		return fmt.Errorf("heartbeat session %s: %w", id, err)
	}
}

// recreate writes the record back after the store lost it (a wiped Redis, a
// deleted row), carrying the counts and times the tracker knows.
func (t *Tracker) recreate(ctx context.Context, now time.Time) error {
	t.mu.Lock()
	s, revoked, expired := t.last, t.revoked, t.expired
	t.mu.Unlock()

	s.Status = ports.SessionActive
	switch {
	case revoked.ok:
		s.Status = ports.SessionRevoked
		s.RevokedBy, s.RevokedReason, s.RevokedAt = revoked.by, revoked.reason, revoked.at
	case expired || s.Lapsed(now):
		// A lease that ran out while the store was away ended the session:
		// expired is terminal, so it is written back ended, not revived.
		s.Status = ports.SessionExpired
		t.mu.Lock()
		t.expired = true
		t.mu.Unlock()
	default:
		s.ExpiresAt = now.Add(t.cfg.Lease)
	}
	s.UpdatedAt = now
	s.Version = 0
	created, err := t.store.CreateSession(ctx, s)
	if errors.Is(err, ports.ErrAlreadyExists) {
		return nil // someone else put it back; the next heartbeat renews it
	}
	if err != nil {
		return fmt.Errorf("recreate missing session %s: %w", s.ID, err)
	}
	t.logger.Warn("session record was missing from the store; recreated it",
		"session_id", s.ID, "status", created.Status, "request_count", created.RequestCount)
	// The new record restarts at Version 1, so it replaces the old one outright.
	t.mu.Lock()
	t.last = created
	t.mu.Unlock()
	return nil
}

// Stop ends the loop, flushes the remaining counts and marks the session
// expired; a revoked session stays revoked. Calling it again does nothing.
func (t *Tracker) Stop(ctx context.Context) error {
	t.mu.Lock()
	if !t.started || t.stopped {
		t.mu.Unlock()
		return nil
	}
	t.stopped = true
	id, done := t.id, t.done
	close(t.stop)
	t.mu.Unlock()

	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("stop session tracking %s: %w", id, ctx.Err())
	}

	flushErr := t.Flush(ctx)
	now := t.clock.Now()
	saved, err := UpdateWithRetry(ctx, t.store, id, func(s ports.Session) (ports.Session, error) {
		return Expire(s, now)
	})
	switch {
	case err == nil:
		t.remember(saved)
	case errors.Is(err, ports.ErrInvalidTransition):
		err = nil // already revoked or expired: leave it so
	case errors.Is(err, ports.ErrNotFound):
		t.logger.Warn("session record missing at stop; nothing to mark expired", "session_id", id)
		err = nil
	default:
		err = fmt.Errorf("stop session tracking: mark session %s expired: %w", id, err)
	}
	return errors.Join(flushErr, err)
}

// stepFloor is the least time one flush or heartbeat may take.
const stepFloor = 5 * time.Second

// run flushes and heartbeats until stop is closed. A step in flight when
// Stop comes finishes (within its own deadline) before the loop ends, so
// Stop's own flush never repeats a count the store has already taken.
func (t *Tracker) run(ctx context.Context, stop <-chan struct{}, done chan struct{}) {
	defer close(done)
	flush := time.NewTicker(t.cfg.TouchFlushInterval)
	defer flush.Stop()
	heartbeat := time.NewTicker(t.cfg.HeartbeatInterval)
	defer heartbeat.Stop()
	for {
		select {
		case <-stop:
			return
		case <-flush.C:
			t.step(ctx, "flush", t.Flush)
		case <-heartbeat.C:
			t.step(ctx, "heartbeat", t.Heartbeat)
		case <-t.restore:
			t.step(ctx, "restore", t.restoreRecord)
		}
	}
}

// step runs one loop step with a deadline, logging its failure or panic.
func (t *Tracker) step(ctx context.Context, name string, fn func(context.Context) error) {
	defer func() {
		if r := recover(); r != nil {
			t.logger.Error("session tracking step panicked", "step", name, "session_id", t.ID(), "panic", r)
		}
	}()
	// At least stepFloor: a short heartbeat interval must not starve a step
	// against a slow store (a DynamoDB warming up after a restart).
	stepCtx, cancel := context.WithTimeout(ctx, max(t.cfg.HeartbeatInterval, stepFloor))
	defer cancel()
	if err := fn(stepCtx); err != nil {
		t.logger.Warn("session tracking step failed; will retry", "step", name, "session_id", t.ID(), "err", err)
	}
}

// remember keeps the newest record and notes a revoke or expiry it shows.
func (t *Tracker) remember(s ports.Session) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.id == "" || s.ID != t.id {
		return
	}
	if s.Version >= t.last.Version {
		t.last = s
	}
	switch EffectiveStatus(s, now) {
	case ports.SessionRevoked:
		if !t.revoked.ok {
			t.revoked = revokedState{by: s.RevokedBy, reason: s.RevokedReason, at: s.RevokedAt, ok: true}
		}
	case ports.SessionExpired:
		t.expired = true
	}
}
