package session

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// View defaults.
const (
	// readTimeout bounds one shared store read; each caller also stops
	// waiting when its own context ends.
	readTimeout = 1500 * time.Millisecond
	// DefaultResync re-reads the session even when the feed is quiet, so a
	// write that nobody announced (the sweeper, a foreign program) is seen
	// within a quarter second; one store read per interval is cheap.
	DefaultResync = 250 * time.Millisecond
	// DefaultPoll is the re-read interval when the store has no feed
	// (DynamoDB): a revoke is seen within about two polls.
	DefaultPoll = 50 * time.Millisecond
)

// ViewConfig tunes a View; zero fields take the defaults.
type ViewConfig struct {
	Resync time.Duration
	Poll   time.Duration
	// Memory, when set, is told what every store read found before any
	// caller sees the result and before a change is acknowledged, so an end
	// the view has read is remembered even if no request follows it.
	Memory Memory
}

// Memory is what a View reports its reads to: the Tracker is one.
type Memory interface {
	// Observe is given every record read.
	Observe(s ports.Session)
	// Missing is called on every read that found no record.
	Missing()
}

// View keeps a running server's session in memory, so the per-request
// revocation check costs no store round trip, without ever serving past an
// acknowledged revoke:
//   - with a feed, the memory copy is trusted only while the feed is whole;
//     an announced change is read from the store before it is acknowledged,
//     and on any gap every request reads the store until the feed resumes;
//   - without a feed (poll mode), a copy older than two polls is re-read;
//   - an end (revoked, expired) once read is kept for good: no later read, a
//     missing record, an outage or a record recreated active, undoes it.
type View struct {
	store  ports.SessionStore
	feed   ports.SessionFeed
	clock  ports.Clock
	cfg    ViewConfig
	logger *slog.Logger
	id     string

	mu     sync.RWMutex
	cur    ports.Session
	have   bool
	readAt time.Time
	// trusted = the feed is whole (no gap since FeedResumed) and the last
	// read succeeded; only then is memory served without a store read.
	feedWhole, readOK bool
	// polling: no feed; a copy younger than two polls is served.
	polling bool
	// resuming: the feed resumed but its re-read failed; the next good
	// resync read restores trust.
	resuming bool
	// corrupt is the last read's ErrCorrupt, until a read succeeds.
	corrupt error
	// flights counts the store reads started; inflight is the running one,
	// landed the last to finish.
	flights          uint64
	inflight, landed *flight

	// acker, when the store has one (no feed: DynamoDB), takes the poll
	// loop's confirmation that it has read its session ended; acked is the
	// last version confirmed (used by the run loop only).
	acker ports.ReadAcknowledger
	acked int64
}

// NewView builds a view of session id. feed may be nil (poll mode).
func NewView(store ports.SessionStore, feed ports.SessionFeed, clock ports.Clock, cfg ViewConfig, logger *slog.Logger) *View {
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultResync
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	v := &View{store: store, feed: feed, clock: clock, cfg: cfg, logger: logger}
	v.acker, _ = store.(ports.ReadAcknowledger)
	return v
}

// Start follows s until ctx ends; the returned channel closes when the
// background loop has stopped.
func (v *View) Start(ctx context.Context, s ports.Session) (<-chan struct{}, error) {
	v.mu.Lock()
	v.id = s.ID
	v.mu.Unlock()
	var signals <-chan ports.FeedSignal
	if v.feed != nil {
		ch, err := v.feed.Follow(ctx, s)
		if err != nil {
			// No feed: poll mode is slower but just as safe.
			v.logger.Warn("session feed unavailable; polling the store instead", "error", err)
		} else {
			signals = ch
		}
	}
	v.mu.Lock()
	v.polling = signals == nil
	v.mu.Unlock()
	done := make(chan struct{})
	go v.run(ctx, signals, done)
	return done, nil
}

// Current returns the session as the revocation check must see it now:
// from memory when that is safe, else from the store.
func (v *View) Current(ctx context.Context) (ports.Session, error) {
	v.mu.RLock()
	cur, id := v.cur, v.id
	fresh := v.have && (v.cur.Status != ports.SessionActive || v.readOK && v.young(v.clock.Now()))
	v.mu.RUnlock()
	if fresh {
		return cur, nil
	}
	return v.read(ctx, id)
}

// young reports whether the memory copy may still be served at now (v.mu
// held): its read started less than two resync intervals ago with a whole
// feed, or two polls ago without a feed. A stalled resync or poll loop thus
// never stretches trust, and a revoker that gets no confirmation knows how
// long to wait (RereadBound).
func (v *View) young(now time.Time) bool {
	age := now.Sub(v.readAt)
	return (v.feedWhole && age < 2*v.cfg.Resync) || (v.polling && age < 2*v.cfg.Poll)
}

// Trusted reports whether the memory copy is currently trusted (feed whole).
func (v *View) Trusted() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.feedWhole && v.readOK && v.have
}

// read fetches the session and keeps it if it is news. A failed read stops
// trusting memory: a change could be waiting behind it.
//
// Concurrent reads share one store round trip, so a burst of requests while
// memory is not trusted costs one read, not one each. A caller only shares a
// read that started after it arrived: one that started earlier might predate
// a change the caller must see.
func (v *View) read(ctx context.Context, id string) (ports.Session, error) {
	// The caller's whole wait, an earlier flight included, fits in one bound.
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	v.mu.Lock()
	need := v.flights + 1
	for v.inflight != nil && v.inflight.n < need {
		f := v.inflight
		v.mu.Unlock()
		if err := f.wait(ctx); err != nil {
			return ports.Session{}, err
		}
		v.mu.Lock()
	}
	if f := v.inflight; f != nil {
		v.mu.Unlock()
		if err := f.wait(ctx); err != nil {
			return ports.Session{}, err
		}
		return f.s, f.err
	}
	if f := v.landed; f != nil && f.n >= need {
		// A read that started after we arrived has already landed.
		v.mu.Unlock()
		return f.s, f.err
	}
	v.flights++
	f := &flight{n: v.flights, done: make(chan struct{})}
	v.inflight = f
	v.mu.Unlock()
	go v.fly(f, id) //nolint:gosec // deliberate: a shared read must outlive the caller that started it
	if err := f.wait(ctx); err != nil {
		return ports.Session{}, err
	}
	return f.s, f.err
}

// fly runs one shared store read. It has its own bound, so no caller's
// cancellation fails the others, and it always lands.
func (v *View) fly(f *flight, id string) {
	rctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	// The copy is as old as the read's start: a write that landed while the
	// read was under way may be missing from it.
	started := v.clock.Now()
	s, err := v.store.GetSession(rctx, id)
	cancel()
	v.mu.Lock()
	switch {
	case errors.Is(err, ports.ErrCorrupt):
		v.corrupt = err
	case err != nil && v.corrupt != nil:
		// A record last seen corrupt stays refused until a read shows it
		// sound: a timeout is no evidence it healed (and fail-open must not
		// turn it into a serve).
		err = v.corrupt
	}
	if err != nil {
		v.readOK = false
	} else {
		v.readOK, v.corrupt = true, nil
		if !v.have || newer(s, v.cur) {
			v.cur, v.have = s, true
		}
		v.readAt = started
	}
	missing := errors.Is(err, ports.ErrNotFound)
	if v.have && v.cur.Status != ports.SessionActive {
		// An end once read answers every later read.
		s, err = v.cur, nil
	}
	f.s, f.err = s, err
	v.inflight, v.landed = nil, f
	v.mu.Unlock()
	// Memory hears of the read before any waiter, and so before the feed's
	// acknowledgement, which waits on this flight.
	if m := v.cfg.Memory; m != nil {
		if err == nil {
			m.Observe(s)
		}
		if missing {
			m.Missing()
		}
	}
	close(f.done)
}

// flight is one store read that concurrent callers share.
type flight struct {
	n    uint64
	done chan struct{}
	s    ports.Session
	err  error
}

func (f *flight) wait(ctx context.Context) error {
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newer decides whether a read replaces the copy. Reads never overlap (one
// flight at a time), so a later read is later news, whatever its Version
// says (a record recreated after loss restarts at 1); the one exception: an
// ended session never turns active again.
func newer(read, cur ports.Session) bool {
	return read.Status != ports.SessionActive || cur.Status == ports.SessionActive
}

func (v *View) setFeedWhole(ok bool) {
	v.mu.Lock()
	v.feedWhole = ok
	v.mu.Unlock()
}

func (v *View) run(ctx context.Context, signals <-chan ports.FeedSignal, done chan struct{}) {
	defer close(done)
	interval := v.cfg.Resync
	if signals == nil {
		interval = v.cfg.Poll
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case sig, ok := <-signals:
			if !ok {
				// The feed ended before we did: from now on, poll.
				signals = nil
				v.mu.Lock()
				v.feedWhole, v.polling = false, true
				v.mu.Unlock()
				ticker.Reset(v.cfg.Poll)
				continue
			}
			v.handle(ctx, sig)
		case <-ticker.C:
			v.mu.RLock()
			id, resuming := v.id, v.resuming
			v.mu.RUnlock()
			// Errors are the request path's to report.
			s, err := v.read(ctx, id)
			if err == nil && resuming {
				// The re-read FeedResumed asked for has now succeeded.
				v.mu.Lock()
				v.feedWhole, v.resuming = true, false
				v.mu.Unlock()
			}
			if err == nil {
				v.ackRead(ctx, s)
			}
		}
	}
}

func (v *View) handle(ctx context.Context, sig ports.FeedSignal) {
	v.mu.RLock()
	id := v.id
	v.mu.RUnlock()
	switch sig {
	case ports.FeedLost:
		v.mu.Lock()
		v.feedWhole, v.resuming = false, false
		v.mu.Unlock()
		v.logger.Warn("session feed lost; reading the store on every request until it is back", "session", id)
	case ports.FeedResumed, ports.FeedChanged:
		// Read first, then trust: the read covers whatever the gap hid.
		s, err := v.read(ctx, id)
		if err != nil {
			if sig == ports.FeedResumed {
				// Trust comes back with the first resync read that succeeds.
				v.mu.Lock()
				v.resuming = true
				v.mu.Unlock()
			}
			v.logger.Warn("could not re-read the session after a feed signal; reading the store on every request", "session", id, "error", err)
			return
		}
		if sig == ports.FeedResumed {
			v.setFeedWhole(true)
			return
		}
		if sig == ports.FeedChanged {
			if err := v.feed.Ack(ctx, id, s.Version); err != nil {
				v.logger.Warn("could not acknowledge a session change", "session", id, "error", err)
			}
		}
	}
}

// ackRead confirms through the store (ports.ReadAcknowledger) that this
// server has read its session ended and refuses from now on; the revoker
// waits for it. Active versions are not confirmed: every touch bumps the
// version, and only an end is waited for. A failed write is tried again at
// the next poll.
func (v *View) ackRead(ctx context.Context, s ports.Session) {
	if v.acker == nil || s.Status == ports.SessionActive || s.Version <= v.acked {
		return
	}
	if err := v.acker.AckRead(ctx, s.ID, s.Version); err != nil {
		v.logger.Warn("could not confirm the session's end in the store", "session", s.ID, "error", err)
		return
	}
	v.acked = s.Version
}
