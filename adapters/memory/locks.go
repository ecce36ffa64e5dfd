package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// CreateLock stores l with Version 1.
func (m *Store) CreateLock(ctx context.Context, l ports.Lock) (ports.Lock, error) {
	if err := ctx.Err(); err != nil {
		return ports.Lock{}, fmt.Errorf("memory: create lock %q: %w", l.ID, err)
	}
	if err := l.Check(); err != nil {
		return ports.Lock{}, fmt.Errorf("memory: create: %w", err)
	}
	l = l.InUTC()
	l.Version = 1
	return m.locks.insert(l, nil)
}

// GetLock returns the lock.
func (m *Store) GetLock(ctx context.Context, id string) (ports.Lock, error) {
	return m.locks.get(ctx, id)
}

// EndLock unlocks the lock under the store's mutex.
func (m *Store) EndLock(ctx context.Context, id, by string, at time.Time) (ports.Lock, error) {
	return m.locks.change(ctx, "end", id, func(l ports.Lock) (ports.Lock, error) {
		ended, err := l.End(by, at)
		if err != nil {
			return ports.Lock{}, fmt.Errorf("memory: end: %w", err)
		}
		return ended, nil
	})
}

// ListActiveLocks returns the locks in force at now, newest first.
func (m *Store) ListActiveLocks(ctx context.Context, now time.Time) ([]ports.Lock, error) {
	return ports.AllLocks(m.locks.all).ListActive(ctx, now)
}

// ListLocks lists every lock, newest first.
func (m *Store) ListLocks(ctx context.Context, p ports.Page) (ports.LockPage, error) {
	return ports.AllLocks(m.locks.all).ListPage(ctx, p)
}
