package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/ports"
)

// logBuffer collects log output from the tracker's goroutine safely.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// slowLoop keeps the background loop out of the way so a test can drive
// Flush and Heartbeat itself.
var slowLoop = TrackerConfig{HeartbeatInterval: time.Hour, Lease: time.Minute, TouchFlushInterval: time.Hour}

type trackerRig struct {
	tracker *Tracker
	store   *faultStore
	clock   *ports.FakeClock
	logs    *logBuffer
}

func startTracker(t *testing.T, cfg TrackerConfig) trackerRig {
	t.Helper()
	inner, clock := newStore(t)
	store := &faultStore{inner: inner, clock: clock}
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tr := NewTracker(store, clock, cfg, logger)
	s := activeSession()
	s.ExpiresAt = time.Time{} // the tracker sets the lease
	if _, err := tr.Start(context.Background(), s); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = tr.Stop(context.Background()) })
	return trackerRig{tracker: tr, store: store, clock: clock, logs: logs}
}

func (r trackerRig) stored(t *testing.T) ports.Session {
	t.Helper()
	s, err := r.store.GetSession(context.Background(), r.tracker.ID())
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	return s
}

func (r trackerRig) revoke(t *testing.T, by, reason string) {
	t.Helper()
	if _, err := UpdateWithRetry(context.Background(), r.store, r.tracker.ID(), func(s ports.Session) (ports.Session, error) {
		return Revoke(s, by, reason, r.clock.Now())
	}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
}

func TestTrackerStartCreatesLeasedRecord(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, slowLoop)
	got := r.stored(t)
	if got.ID != testID || got.Status != ports.SessionActive || got.Version != 1 {
		t.Fatalf("stored %+v, want active version 1 of %s", got, testID)
	}
	if !got.ExpiresAt.Equal(t0.Add(time.Minute)) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("ExpiresAt %s CreatedAt %s, want lease to %s from %s", got.ExpiresAt, got.CreatedAt, t0.Add(time.Minute), t0)
	}
	if _, err := r.tracker.Start(context.Background(), activeSession()); err == nil {
		t.Fatal("second Start succeeded")
	}
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerStartRejectsBadIDAndFillsEmptyOne(t *testing.T) {
	defer goleak.VerifyNone(t)
	store, clock := newStore(t)
	bad := activeSession()
	bad.ID = "not-an-id"
	if _, err := NewTracker(store, clock, slowLoop, nil).Start(context.Background(), bad); !errors.Is(err, ports.ErrInvalidArgument) {
		t.Fatalf("Start with a bad id: %v, want ErrInvalidArgument", err)
	}
	tr := NewTracker(store, clock, slowLoop, nil)
	anon := activeSession()
	anon.ID = ""
	got, err := tr.Start(context.Background(), anon)
	if err != nil {
		t.Fatal(err)
	}
	if record.ValidateID("session", got.ID) != nil || tr.ID() != got.ID {
		t.Fatalf("generated id %q (tracker says %q)", got.ID, tr.ID())
	}
	if err := tr.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerFlushWritesTouches(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, slowLoop)
	r.tracker.Touch(3)
	r.tracker.Touch(2)
	r.tracker.Touch(-7) // ignored
	r.clock.Advance(5 * time.Second)
	if err := r.tracker.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := r.stored(t)
	if got.RequestCount != 5 || !got.LastAccessAt.Equal(t0.Add(5*time.Second)) || r.tracker.Pending() != 0 {
		t.Fatalf("count %d last access %s pending %d; want 5 at t0+5s, none pending",
			got.RequestCount, got.LastAccessAt, r.tracker.Pending())
	}
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerFlushFailureLosesNoCount(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, slowLoop)
	r.store.failTouches(fmt.Errorf("redis: touch: %w", ports.ErrUnavailable))
	r.tracker.Touch(4)
	if err := r.tracker.Flush(context.Background()); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Flush = %v, want ErrUnavailable", err)
	}
	r.tracker.Touch(1)
	if err := r.tracker.Flush(context.Background()); err == nil {
		t.Fatal("second Flush succeeded against a failing store")
	}
	if r.tracker.Pending() != 5 {
		t.Fatalf("pending %d after failed flushes, want 5", r.tracker.Pending())
	}
	r.store.failTouches(nil)
	if err := r.tracker.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.stored(t).RequestCount; got != 5 || r.tracker.Pending() != 0 {
		t.Fatalf("count %d pending %d, want 5 and 0", got, r.tracker.Pending())
	}
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerHeartbeatRenewsLease(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, slowLoop)
	r.clock.Advance(50 * time.Second)
	if err := r.tracker.Heartbeat(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.stored(t); !got.ExpiresAt.Equal(t0.Add(50*time.Second+time.Minute)) || got.Status != ports.SessionActive {
		t.Fatalf("after heartbeat %+v, want active until t0+110s", got)
	}
	r.clock.Advance(50 * time.Second) // past the first lease, within the renewed one
	if got := r.stored(t); got.Status != ports.SessionActive {
		t.Fatalf("status %s at t0+100s, want active", got.Status)
	}
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerRemembersRevoke(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, slowLoop)
	r.clock.Advance(10 * time.Second)
	r.revoke(t, "bob", "incident 42")
	if _, _, _, ok := r.tracker.Revoked(); ok {
		t.Fatal("tracker reports a revoke before seeing it")
	}
	if err := r.tracker.Heartbeat(context.Background()); err != nil {
		t.Fatal(err)
	}
	by, reason, at, ok := r.tracker.Revoked()
	if !ok || by != "bob" || reason != "incident 42" || !at.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("Revoked() = %q %q %s %v", by, reason, at, ok)
	}
	if !strings.Contains(r.logs.String(), "session revoked") {
		t.Errorf("no warning logged: %s", r.logs.String())
	}
	// An active copy seen later, or the record vanishing, does not un-revoke.
	active := r.stored(t)
	active.Status = ports.SessionActive
	active.Version = 1000
	r.tracker.Observe(active)
	r.store.wipe()
	if err := r.tracker.Heartbeat(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := r.tracker.Revoked(); !ok {
		t.Fatal("revoke forgotten")
	}
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerObserveRemembersRevokeSeenElsewhere(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, slowLoop)
	r.revoke(t, "bob", "seen by the request path")
	r.tracker.Observe(r.stored(t))
	if by, _, _, ok := r.tracker.Revoked(); !ok || by != "bob" {
		t.Fatalf("Observe did not record the revoke: %q %v", by, ok)
	}
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerStopLeavesRevokedSessionRevoked(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, slowLoop)
	r.tracker.Touch(2)
	r.revoke(t, "bob", "incident")
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	got := r.stored(t)
	if got.Status != ports.SessionRevoked || got.RequestCount != 2 {
		t.Fatalf("after Stop %s with %d requests, want revoked with 2", got.Status, got.RequestCount)
	}
}

func TestTrackerLapsedLeaseStaysExpired(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, slowLoop)
	r.clock.Advance(2 * time.Hour) // the laptop slept
	if err := r.tracker.Heartbeat(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !r.tracker.Expired() {
		t.Fatal("tracker did not notice the lapsed lease")
	}
	if !strings.Contains(r.logs.String(), "lease lapsed") {
		t.Errorf("no log of the lapse: %s", r.logs.String())
	}
	if err := r.tracker.Heartbeat(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.stored(t); got.Status != ports.SessionExpired || !got.ExpiresAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("stored %s until %s: a heartbeat revived the lapsed session", got.Status, got.ExpiresAt)
	}
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerRecreatesMissingRecord(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, slowLoop)
	r.tracker.Touch(7)
	if err := r.tracker.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.store.wipe()
	r.tracker.Touch(3)
	if err := r.tracker.Flush(context.Background()); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("Flush to a wiped store = %v, want ErrNotFound", err)
	}
	r.clock.Advance(20 * time.Second)
	if err := r.tracker.Heartbeat(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := r.stored(t)
	if got.ID != testID || got.Status != ports.SessionActive || got.RequestCount != 7 ||
		!got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(80*time.Second)) {
		t.Fatalf("recreated %+v, want active %s with 7 requests, created t0, leased to t0+80s", got, testID)
	}
	if !strings.Contains(r.logs.String(), "level=WARN") || !strings.Contains(r.logs.String(), "recreated") {
		t.Errorf("recreation not logged at warn: %s", r.logs.String())
	}
	if err := r.tracker.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.stored(t).RequestCount; got != 10 {
		t.Fatalf("count %d after recreation and flush, want 10", got)
	}
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A lease that ran out while the store had lost the record ended the
// session: it is written back expired, never revived.
func TestTrackerRecreatesALapsedSessionExpired(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, slowLoop)
	r.store.wipe()
	r.clock.Advance(2 * time.Minute) // past the 60s lease, no heartbeat landed
	if err := r.tracker.Heartbeat(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.stored(t); got.Status != ports.SessionExpired {
		t.Fatalf("recreated as %s, want expired", got.Status)
	}
	if !r.tracker.Expired() {
		t.Fatal("the tracker does not know its session ended")
	}
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerStopFlushesAndExpires(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, slowLoop)
	r.tracker.Touch(9)
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := r.stored(t)
	if got.Status != ports.SessionExpired || got.RequestCount != 9 {
		t.Fatalf("after Stop: %s with %d requests, want expired with 9", got.Status, got.RequestCount)
	}
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestTrackerStopReportsFlushFailure(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, slowLoop)
	r.store.failTouches(fmt.Errorf("redis: touch: %w", ports.ErrUnavailable))
	r.tracker.Touch(1)
	if err := r.tracker.Stop(context.Background()); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Stop = %v, want the flush failure", err)
	}
	if got := r.stored(t).Status; got != ports.SessionExpired {
		t.Fatalf("status %s: a failed flush stopped the expiry", got)
	}
}

// A Stop that comes while the loop's flush is at the store waits for it: a
// flush cut short after its write landed would leave its count pending, and
// Stop's own flush would write it a second time.
func TestTrackerStopLetsAFlushInFlightFinish(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, TrackerConfig{HeartbeatInterval: time.Hour, Lease: time.Minute, TouchFlushInterval: 2 * time.Millisecond})
	landed, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.store.mu.Lock()
	r.store.afterTouch = func(ctx context.Context) error {
		once.Do(func() { close(landed) })
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err() // the write landed; its reply is lost
		}
	}
	r.store.mu.Unlock()
	r.tracker.Touch(7)
	<-landed // the loop's flush has written 7 and waits for its reply

	stopped := make(chan error, 1)
	go func() { stopped <- r.tracker.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a flush was at the store", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if got := r.stored(t); got.RequestCount != 7 || got.Status != ports.SessionExpired {
		t.Fatalf("after Stop: %s with %d requests, want expired with 7 (each request counted once)", got.Status, got.RequestCount)
	}
}

// The background loop, on real (short) timers, flushes and heartbeats by itself.
func TestTrackerLoopFlushesAndHeartbeats(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, TrackerConfig{HeartbeatInterval: 5 * time.Millisecond, Lease: time.Minute, TouchFlushInterval: 2 * time.Millisecond})
	r.tracker.Touch(6)
	r.clock.Advance(30 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := r.stored(t)
		if got.RequestCount == 6 && got.ExpiresAt.Equal(t0.Add(90*time.Second)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("loop did not flush and heartbeat: %+v", got)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Loop failures are logged and retried, never fatal.
func TestTrackerLoopLogsFailures(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := startTracker(t, TrackerConfig{HeartbeatInterval: time.Hour, Lease: time.Minute, TouchFlushInterval: 2 * time.Millisecond})
	r.store.failTouches(fmt.Errorf("redis: touch: %w", ports.ErrUnavailable))
	r.tracker.Touch(1)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(r.logs.String(), "step=flush") {
		if time.Now().After(deadline) {
			t.Fatalf("no flush failure logged: %s", r.logs.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.store.failTouches(nil)
	for r.stored(t).RequestCount != 1 {
		if time.Now().After(deadline) {
			t.Fatal("count not written after the store recovered")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := r.tracker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerConfigDefaults(t *testing.T) {
	t.Parallel()
	got := TrackerConfig{Lease: -time.Second}.withDefaults()
	want := TrackerConfig{HeartbeatInterval: 20 * time.Second, Lease: 60 * time.Second, TouchFlushInterval: time.Second, RestoreInterval: DefaultResync}
	if got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
}
