package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// bucketLocks holds the locks by id. Locks are few, so the listings read
// them all; there is no index. Open creates the bucket in an older file.
var bucketLocks = []byte("locks")

func encodeLock(l ports.Lock) ([]byte, error) {
	inner, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("bolt: encode lock %q: %w", l.ID, err)
	}
	return json.Marshal(envelope{V: envelopeVersion, Lock: inner})
}

// decodeLock reads the lock stored under id; anything it cannot trust
// wraps ports.ErrCorrupt and names id.
func decodeLock(id string, raw []byte) (ports.Lock, error) {
	var l ports.Lock
	if err := decodeEnvelope("lock", id, raw, func(e envelope) json.RawMessage { return e.Lock }, &l); err != nil {
		return ports.Lock{}, err
	}
	if err := checkDecoded("lock", id, l.ID, l.Kind.Valid(), string(l.Kind), l.Version); err != nil {
		return ports.Lock{}, err
	}
	return l.InUTC(), nil
}

// CreateLock stores l with Version 1.
func (s *Store) CreateLock(ctx context.Context, l ports.Lock) (ports.Lock, error) {
	if err := l.Check(); err != nil {
		return ports.Lock{}, fmt.Errorf("bolt: create: %w", err)
	}
	return lockRecords.insert(ctx, s, l, nil)
}

// GetLock returns the lock.
func (s *Store) GetLock(ctx context.Context, id string) (ports.Lock, error) {
	return lockRecords.get(ctx, s, id)
}

// EndLock unlocks the lock in one write transaction: under the file lock
// nothing changes the record between the read and the write.
func (s *Store) EndLock(ctx context.Context, id, by string, at time.Time) (ports.Lock, error) {
	return lockRecords.change(ctx, s, "end", id, func(stored ports.Lock) (ports.Lock, error) {
		ended, err := stored.End(by, at)
		if err != nil {
			return ports.Lock{}, fmt.Errorf("bolt: end: %w", err)
		}
		return ended, nil
	})
}

// ListActiveLocks returns the locks in force at now, newest first.
func (s *Store) ListActiveLocks(ctx context.Context, now time.Time) ([]ports.Lock, error) {
	return ports.AllLocks(s.allLocks).ListActive(ctx, now)
}

// ListLocks lists every lock, newest first.
func (s *Store) ListLocks(ctx context.Context, p ports.Page) (ports.LockPage, error) {
	return ports.AllLocks(s.allLocks).ListPage(ctx, p)
}

// allLocks reads every lock in one read transaction.
func (s *Store) allLocks(ctx context.Context) ([]ports.Lock, error) {
	return lockRecords.all(ctx, s)
}
