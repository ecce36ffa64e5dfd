package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

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

func putLock(tx *bbolt.Tx, l ports.Lock) error {
	raw, err := encodeLock(l)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketLocks).Put([]byte(l.ID), raw)
}

func readLock(tx *bbolt.Tx, id string) (ports.Lock, error) {
	raw := tx.Bucket(bucketLocks).Get([]byte(id))
	if raw == nil {
		return ports.Lock{}, ports.ErrNotFound
	}
	return decodeLock(id, raw)
}

// CreateLock stores l with Version 1.
func (s *Store) CreateLock(ctx context.Context, l ports.Lock) (ports.Lock, error) {
	if err := l.Check(); err != nil {
		return ports.Lock{}, fmt.Errorf("bolt: create: %w", err)
	}
	l = l.InUTC()
	l.Version = 1
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketLocks).Get([]byte(l.ID)) != nil {
			return fmt.Errorf("bolt: create lock %q: %w", l.ID, ports.ErrAlreadyExists)
		}
		return putLock(tx, l)
	})
	if err != nil {
		return ports.Lock{}, err
	}
	return l, nil
}

// GetLock returns the lock.
func (s *Store) GetLock(ctx context.Context, id string) (ports.Lock, error) {
	if id == "" {
		return ports.Lock{}, fmt.Errorf("bolt: get lock: empty id: %w", ports.ErrInvalidArgument)
	}
	var got ports.Lock
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		if got, err = readLock(tx, id); err != nil {
			return fmt.Errorf("bolt: get lock %q: %w", id, err)
		}
		return nil
	})
	return got, err
}

// EndLock unlocks the lock in one write transaction: under the file lock
// nothing changes the record between the read and the write.
func (s *Store) EndLock(ctx context.Context, id, by string, at time.Time) (ports.Lock, error) {
	if id == "" {
		return ports.Lock{}, fmt.Errorf("bolt: end lock: empty id: %w", ports.ErrInvalidArgument)
	}
	var ended ports.Lock
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		stored, err := readLock(tx, id)
		if err != nil {
			return fmt.Errorf("bolt: end lock %q: %w", id, err)
		}
		if ended, err = stored.End(by, at); err != nil {
			return fmt.Errorf("bolt: end: %w", err)
		}
		ended.Version++
		return putLock(tx, ended)
	})
	if err != nil {
		return ports.Lock{}, err
	}
	return ended, nil
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
	const op = "list locks"
	var all []ports.Lock
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLocks).ForEach(func(k, raw []byte) error {
			l, err := decodeLock(string(k), raw)
			if err != nil {
				return fmt.Errorf("bolt: %s: %w", op, err)
			}
			all = append(all, l)
			return nil
		})
	})
	return all, err
}
