package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/ports"
)

// Locks live in one hash, {P}:locks, field = lock id, value = the lock as
// JSON in a versioned envelope. Locks are few (an incident's worth), so one
// HGETALL reads them all, in one round trip, for the listings and the
// per-request check; one key also keeps every write atomic, in a cluster
// too. EndLock is a WATCH/MULTI compare-and-set: the transition rule
// (ports.Lock.End) is decided in Go, and a concurrent write retries it.

// lockEnvelope is how a lock is stored in its hash field.
type lockEnvelope struct {
	V    int             `json:"v"`
	Lock json.RawMessage `json:"lock"`
}

// endLockTries bounds EndLock's compare-and-set retries; each retry means
// another writer changed the hash in between, so losing them all is a
// conflict, never a silent overwrite.
const endLockTries = 16

func (s *Store) locksKey() string { return s.tag + "locks" }

func encodeLock(l ports.Lock) (string, error) {
	inner, err := json.Marshal(l)
	if err != nil {
		return "", fmt.Errorf("redis: encode lock %q: %w", l.ID, err)
	}
	raw, err := json.Marshal(lockEnvelope{V: 1, Lock: inner})
	return string(raw), err
}

// decodeLock reads the lock stored under id; anything it cannot trust wraps
// ports.ErrCorrupt and names id.
func decodeLock(id, raw string) (ports.Lock, error) {
	bad := func(reason string) error {
		return fmt.Errorf("stored lock %q: %s: %w", id, reason, ports.ErrCorrupt)
	}
	var env lockEnvelope
	if err := json.Unmarshal([]byte(raw), &env); err != nil {
		return ports.Lock{}, bad("undecodable envelope: " + err.Error())
	}
	if env.V != 1 || len(env.Lock) == 0 {
		return ports.Lock{}, bad(fmt.Sprintf("unknown envelope version %d or no lock", env.V))
	}
	var l ports.Lock
	if err := json.Unmarshal(env.Lock, &l); err != nil {
		return ports.Lock{}, bad("undecodable lock: " + err.Error())
	}
	switch {
	case l.ID != id:
		return ports.Lock{}, bad(fmt.Sprintf("record holds id %q", l.ID))
	case !l.Kind.Valid():
		return ports.Lock{}, bad(fmt.Sprintf("unknown kind %q", l.Kind))
	case l.Version < 1:
		return ports.Lock{}, bad(fmt.Sprintf("version %d below 1", l.Version))
	}
	return l.InUTC(), nil
}

// CreateLock stores l with Version 1 (HSETNX: a taken id changes nothing).
func (s *Store) CreateLock(ctx context.Context, l ports.Lock) (ports.Lock, error) {
	if err := s.check("create lock", l.ID); err != nil {
		return ports.Lock{}, err
	}
	if err := l.Check(); err != nil {
		return ports.Lock{}, fmt.Errorf("redis: create: %w", err)
	}
	l = l.InUTC()
	l.Version = 1
	raw, err := encodeLock(l)
	if err != nil {
		return ports.Lock{}, err
	}
	set, err := s.client.HSetNX(ctx, s.locksKey(), l.ID, raw).Result()
	if err != nil {
		return ports.Lock{}, mapError(fmt.Sprintf("create lock %q", l.ID), err)
	}
	if !set {
		return ports.Lock{}, fmt.Errorf("redis: create lock %q: %w", l.ID, ports.ErrAlreadyExists)
	}
	return l, nil
}

// GetLock returns the lock.
func (s *Store) GetLock(ctx context.Context, id string) (ports.Lock, error) {
	what := fmt.Sprintf("get lock %q", id)
	if err := s.check("get lock", id); err != nil {
		return ports.Lock{}, err
	}
	raw, err := s.client.HGet(ctx, s.locksKey(), id).Result()
	if err != nil {
		return ports.Lock{}, mapError(what, err)
	}
	l, err := decodeLock(id, raw)
	if err != nil {
		return ports.Lock{}, mapError(what, err)
	}
	return l, nil
}

// EndLock unlocks the lock with a WATCH/MULTI compare-and-set on the hash.
func (s *Store) EndLock(ctx context.Context, id, by string, at time.Time) (ports.Lock, error) {
	what := fmt.Sprintf("end lock %q", id)
	if err := s.check("end lock", id); err != nil {
		return ports.Lock{}, err
	}
	key := s.locksKey()
	var ended ports.Lock
	for range endLockTries {
		err := s.client.Watch(ctx, func(tx *redis.Tx) error {
			raw, err := tx.HGet(ctx, key, id).Result()
			if err != nil {
				return err
			}
			stored, err := decodeLock(id, raw)
			if err != nil {
				return err
			}
			if ended, err = stored.End(by, at); err != nil {
				return err
			}
			ended.Version++
			enc, err := encodeLock(ended)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, key, id, enc)
				return nil
			})
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue // another write to the hash came in between: read again
		}
		if err != nil {
			return ports.Lock{}, mapError(what, err)
		}
		return ended, nil
	}
	return ports.Lock{}, fmt.Errorf("redis: %s: the locks hash kept changing: %w", what, ports.ErrConflict)
}

// ListActiveLocks returns the locks in force at now, newest first.
func (s *Store) ListActiveLocks(ctx context.Context, now time.Time) ([]ports.Lock, error) {
	return ports.AllLocks(s.allLocks).ListActive(ctx, now)
}

// ListLocks lists every lock, newest first.
func (s *Store) ListLocks(ctx context.Context, p ports.Page) (ports.LockPage, error) {
	return ports.AllLocks(s.allLocks).ListPage(ctx, p)
}

func (s *Store) allLocks(ctx context.Context) ([]ports.Lock, error) {
	const what = "list locks"
	if s.closed.Load() {
		return nil, fmt.Errorf("redis: %s: the store is closed: %w", what, ports.ErrUnavailable)
	}
	fields, err := s.client.HGetAll(ctx, s.locksKey()).Result()
	if err != nil {
		return nil, mapError(what, err)
	}
	all := make([]ports.Lock, 0, len(fields))
	for id, raw := range fields {
		l, err := decodeLock(id, raw)
		if err != nil {
			return nil, mapError(what, err)
		}
		all = append(all, l)
	}
	return all, nil
}
