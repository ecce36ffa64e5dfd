package session

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/ports"
)

var t0 = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)

const testID = "8f3a2c1d9b7e4f60a1c2d3e4f5061728"

// activeSession is a fresh active session leased for a minute from t0.
func activeSession() ports.Session {
	return ports.Session{
		ID: testID, User: "alice", Profile: "prod", ServerInstanceID: "inst-1",
		Status: ports.SessionActive, StartedAt: t0, CreatedAt: t0, UpdatedAt: t0,
		ExpiresAt: t0.Add(time.Minute),
	}
}

// newStore returns the reference store on a fake clock at t0.
func newStore(t *testing.T) (*memory.Store, *ports.FakeClock) { return newStoreB(t) }

// newStoreB is newStore for tests and benchmarks alike.
func newStoreB(t testing.TB) (*memory.Store, *ports.FakeClock) {
	t.Helper()
	clock := ports.NewFakeClock(t0)
	store := memory.New(clock)
	t.Cleanup(func() { _ = store.Close() })
	return store, clock
}

// faultStore wraps a real store and lets a test run code before an update or
// a touch reaches it (a concurrent writer), fail touches, or lose every record.
type faultStore struct {
	mu           sync.Mutex
	inner        ports.SessionStore
	clock        ports.Clock
	beforeUpdate func(ctx context.Context, inner ports.SessionStore, s ports.Session)
	touchErr     error
	// afterTouch runs once a touch has landed; its error is the touch's
	// (a reply lost after the write).
	afterTouch func(ctx context.Context) error
	updates    int
	creates    int
}

func (f *faultStore) store() ports.SessionStore {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inner
}

// wipe replaces the backing store with an empty one, as a flushed Redis would.
func (f *faultStore) wipe() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inner = memory.New(f.clock)
}

func (f *faultStore) failTouches(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touchErr = err
}

func (f *faultStore) updateCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.updates
}

func (f *faultStore) CreateSession(ctx context.Context, s ports.Session) (ports.Session, error) {
	f.mu.Lock()
	f.creates++
	f.mu.Unlock()
	return f.store().CreateSession(ctx, s)
}

func (f *faultStore) createCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates
}

func (f *faultStore) GetSession(ctx context.Context, id string) (ports.Session, error) {
	return f.store().GetSession(ctx, id)
}

func (f *faultStore) UpdateSession(ctx context.Context, s ports.Session) (ports.Session, error) {
	f.mu.Lock()
	f.updates++
	hook, inner := f.beforeUpdate, f.inner
	f.mu.Unlock()
	if hook != nil {
		hook(ctx, inner, s)
	}
	return inner.UpdateSession(ctx, s)
}

func (f *faultStore) TouchSession(ctx context.Context, id string, at time.Time, n int64) (ports.Session, error) {
	f.mu.Lock()
	err, inner, after := f.touchErr, f.inner, f.afterTouch
	f.mu.Unlock()
	if err != nil {
		return ports.Session{}, err
	}
	s, err := inner.TouchSession(ctx, id, at, n)
	if err == nil && after != nil {
		err = after(ctx)
	}
	return s, err
}

func (f *faultStore) ListSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	return f.store().ListSessionsByUser(ctx, user, p)
}

func (f *faultStore) ListSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	return f.store().ListSessionsByProfile(ctx, profile, p)
}

func (f *faultStore) ListSessionsByStatus(ctx context.Context, status ports.SessionStatus, p ports.Page) (ports.SessionPage, error) {
	return f.store().ListSessionsByStatus(ctx, status, p)
}

func (f *faultStore) ListSessionsByServerInstance(ctx context.Context, id string, p ports.Page) (ports.SessionPage, error) {
	return f.store().ListSessionsByServerInstance(ctx, id, p)
}

func (f *faultStore) ExpireLapsedSessions(ctx context.Context, now time.Time) (int, error) {
	return f.store().ExpireLapsedSessions(ctx, now)
}

func (f *faultStore) Close() error { return f.store().Close() }
