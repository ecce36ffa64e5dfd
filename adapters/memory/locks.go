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
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, taken := m.locks[l.ID]; taken {
		return ports.Lock{}, fmt.Errorf("memory: create lock %q: %w", l.ID, ports.ErrAlreadyExists)
	}
	m.locks[l.ID] = l
	return l, nil
}

// GetLock returns the lock.
func (m *Store) GetLock(ctx context.Context, id string) (ports.Lock, error) {
	if err := checkRef(ctx, "get lock", id); err != nil {
		return ports.Lock{}, err
	}
	m.mu.RLock()
	l, ok := m.locks[id]
	m.mu.RUnlock()
	if !ok {
		return ports.Lock{}, fmt.Errorf("memory: get lock %q: %w", id, ports.ErrNotFound)
	}
	return l, nil
}

// EndLock unlocks the lock under the store's mutex.
func (m *Store) EndLock(ctx context.Context, id, by string, at time.Time) (ports.Lock, error) {
	if err := checkRef(ctx, "end lock", id); err != nil {
		return ports.Lock{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.locks[id]
	if !ok {
		return ports.Lock{}, fmt.Errorf("memory: end lock %q: %w", id, ports.ErrNotFound)
	}
	ended, err := l.End(by, at)
	if err != nil {
		return ports.Lock{}, fmt.Errorf("memory: end: %w", err)
	}
	ended.Version++
	m.locks[id] = ended
	return ended, nil
}

// ListActiveLocks returns the locks in force at now, newest first.
func (m *Store) ListActiveLocks(ctx context.Context, now time.Time) ([]ports.Lock, error) {
	return ports.AllLocks(m.allLocks).ListActive(ctx, now)
}

// ListLocks lists every lock, newest first.
func (m *Store) ListLocks(ctx context.Context, p ports.Page) (ports.LockPage, error) {
	return ports.AllLocks(m.allLocks).ListPage(ctx, p)
}

func (m *Store) allLocks(ctx context.Context) ([]ports.Lock, error) {
	const op = "list locks"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: %s: %w", op, err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	all := make([]ports.Lock, 0, len(m.locks))
	for _, l := range m.locks {
		all = append(all, l)
	}
	return all, nil
}
