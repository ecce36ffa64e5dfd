package bolt

import (
	"context"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/ports"
)

// recordKind is how one record type is stored: its bucket, codec, index
// keys and expiry on read. Sessions, approval requests, break-glass events
// and locks share the code that creates, reads, updates, lists and sweeps
// through it.
type recordKind[T any] struct {
	noun      string // "session", "request", "break-glass event", for messages
	plural    string // "sessions", "requests", "break-glass events"
	bucket    []byte
	statusIdx []byte // the index by stored status; nil: none
	encode    func(T) ([]byte, error)
	decode    func(id string, raw []byte) (T, error)
	indexes   func(T) []indexEntry
	effective func(T, time.Time) T
	position  func(T) ports.Position
	// valid reports whether rec's status is known; status names it.
	valid   func(T) bool
	status  func(T) string
	inUTC   func(T) T
	version func(*T) *int64
	// lapsable are the stored statuses a record leaves by running out: it
	// reads as expired once lapsed; markExpired stores that, UpdatedAt now.
	lapsable    []string
	expired     string
	lapsed      func(T, time.Time) bool
	markExpired func(rec *T, now time.Time)
}

var (
	sessionRecords = recordKind[ports.Session]{
		noun: "session", plural: "sessions", bucket: bucketSessions, statusIdx: bucketStatus,
		encode: encodeSession, decode: decodeSession, indexes: indexEntries,
		effective: effectiveAt, position: ports.SessionPosition,
		valid:  func(r ports.Session) bool { return r.Status.Valid() },
		status: func(r ports.Session) string { return string(r.Status) },
		inUTC:  inUTC, version: func(r *ports.Session) *int64 { return &r.Version },
		lapsable: []string{string(ports.SessionActive)}, expired: string(ports.SessionExpired),
		lapsed:      ports.Session.Lapsed,
		markExpired: func(r *ports.Session, now time.Time) { r.Status, r.UpdatedAt = ports.SessionExpired, now },
	}
	requestRecords = recordKind[ports.ApprovalRequest]{
		noun: "request", plural: "requests", bucket: bucketRequests, statusIdx: bucketReqStatus,
		encode: encodeRequest, decode: decodeRequest, indexes: requestIndexEntries,
		effective: effectiveRequest, position: ports.RequestPosition,
		valid:  func(r ports.ApprovalRequest) bool { return r.Status.Valid() },
		status: func(r ports.ApprovalRequest) string { return string(r.Status) },
		inUTC:  requestInUTC, version: func(r *ports.ApprovalRequest) *int64 { return &r.Version },
		lapsable:    []string{string(ports.RequestPending), string(ports.RequestApproved)},
		expired:     string(ports.RequestExpired),
		lapsed:      ports.ApprovalRequest.Lapsed,
		markExpired: func(r *ports.ApprovalRequest, now time.Time) { r.Status, r.UpdatedAt = ports.RequestExpired, now },
	}
	eventRecords = recordKind[ports.BreakGlassEvent]{
		noun: "break-glass event", plural: "break-glass events", bucket: bucketBreakGlass, statusIdx: bucketBGStatus,
		encode: encodeEvent, decode: decodeEvent, indexes: eventIndexEntries,
		effective: effectiveEvent, position: ports.BreakGlassPosition,
		valid:  func(e ports.BreakGlassEvent) bool { return e.Status.Valid() },
		status: func(e ports.BreakGlassEvent) string { return string(e.Status) },
		inUTC:  eventInUTC, version: func(e *ports.BreakGlassEvent) *int64 { return &e.Version },
		lapsable: []string{string(ports.BreakGlassActive)}, expired: string(ports.BreakGlassExpired),
		lapsed:      ports.BreakGlassEvent.Lapsed,
		markExpired: func(e *ports.BreakGlassEvent, now time.Time) { e.Status, e.UpdatedAt = ports.BreakGlassExpired, now },
	}
	// lockRecords are few and have no index and no expiry on read.
	lockRecords = recordKind[ports.Lock]{
		noun: "lock", plural: "locks", bucket: bucketLocks,
		encode: encodeLock, decode: decodeLock, indexes: func(ports.Lock) []indexEntry { return nil },
		effective: func(l ports.Lock, _ time.Time) ports.Lock { return l }, position: ports.LockPosition,
		inUTC: ports.Lock.InUTC, version: func(l *ports.Lock) *int64 { return &l.Version },
	}
)

// checkNew refuses a record to write with an empty id or an unknown status.
func (k recordKind[T]) checkNew(op string, rec T) error {
	id := k.position(rec).ID
	if id == "" {
		return fmt.Errorf("bolt: %s %s: empty id: %w", op, k.noun, ports.ErrInvalidArgument)
	}
	if !k.valid(rec) {
		return fmt.Errorf("bolt: %s %s %q: unknown status %q: %w", op, k.noun, id, k.status(rec), ports.ErrInvalidArgument)
	}
	return nil
}

// create stores in as given with Version 1, unless its id is taken or
// guard (may be nil) refuses it. guard runs in the write transaction with
// the clock read under the file lock, so no later writer judged by an
// earlier now.
func (k recordKind[T]) create(ctx context.Context, s *Store, in T, guard func(tx *bbolt.Tx, rec T, now time.Time) error) (T, error) {
	var zero T
	if err := k.checkNew("create", in); err != nil {
		return zero, err
	}
	return k.insert(ctx, s, in, guard)
}

// insert is create after its checks.
func (k recordKind[T]) insert(ctx context.Context, s *Store, in T, guard func(tx *bbolt.Tx, rec T, now time.Time) error) (T, error) {
	var zero T
	rec := k.inUTC(in)
	*k.version(&rec) = 1
	id := k.position(rec).ID
	var now time.Time
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if k.exists(tx, id) {
			return fmt.Errorf("bolt: create %s %q: %w", k.noun, id, ports.ErrAlreadyExists)
		}
		now = s.clock.Now()
		if guard != nil {
			if err := guard(tx, rec, now); err != nil {
				return err
			}
		}
		return k.write(tx, nil, rec)
	})
	if err != nil {
		return zero, err
	}
	return k.effective(rec, now), nil
}

// get returns the record as it reads now.
func (k recordKind[T]) get(ctx context.Context, s *Store, id string) (T, error) {
	var zero T
	if id == "" {
		return zero, fmt.Errorf("bolt: get %s: empty id: %w", k.noun, ports.ErrInvalidArgument)
	}
	var got T
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		s.countReads(1)
		if got, err = k.read(tx, id); err != nil {
			return fmt.Errorf("bolt: get %s %q: %w", k.noun, id, err)
		}
		return nil
	})
	if err != nil {
		return zero, err
	}
	return k.effective(got, s.clock.Now()), nil
}

// update replaces the record when the stored Version equals in's.
func (k recordKind[T]) update(ctx context.Context, s *Store, in T) (T, error) {
	var zero T
	if err := k.checkNew("update", in); err != nil {
		return zero, err
	}
	rec := k.inUTC(in)
	id := k.position(rec).ID
	return k.change(ctx, s, "update", id, func(stored T) (T, error) {
		if have, want := *k.version(&stored), *k.version(&rec); have != want {
			return zero, fmt.Errorf("bolt: update %s %q: stored version %d, caller's %d: %w", k.noun, id, have, want, ports.ErrConflict)
		}
		return rec, nil
	})
}

// change replaces the stored record id with what fn makes of it, writing
// Version+1, in one write transaction: under the file lock nothing changes
// the record between the read and the write. fn's error is returned as is.
func (k recordKind[T]) change(ctx context.Context, s *Store, op, id string, fn func(stored T) (T, error)) (T, error) {
	var zero T
	if id == "" {
		return zero, fmt.Errorf("bolt: %s %s: empty id: %w", op, k.noun, ports.ErrInvalidArgument)
	}
	var rec T
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		s.countReads(1)
		stored, err := k.read(tx, id)
		if err != nil {
			return fmt.Errorf("bolt: %s %s %q: %w", op, k.noun, id, err)
		}
		if rec, err = fn(stored); err != nil {
			return err
		}
		*k.version(&rec) = *k.version(&stored) + 1
		return k.write(tx, &stored, rec)
	})
	if err != nil {
		return zero, err
	}
	return k.effective(rec, s.clock.Now()), nil
}

// expire stores expired for every record that has lapsed at now, in one
// transaction.
func (k recordKind[T]) expire(ctx context.Context, s *Store, now time.Time) (int, error) {
	now = now.UTC()
	changed := 0
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		changed, err = k.expireLapsed(tx, now, s.countReads)
		return err
	})
	if err != nil {
		return 0, err
	}
	return changed, nil
}

// listByStatus lists the records whose effective status is status, newest
// first. The index holds stored statuses: expired merges the stored
// expired keys with the lapsable ones that have lapsed, and every other
// status drops the records that read otherwise now.
func (k recordKind[T]) listByStatus(ctx context.Context, s *Store, status string, valid bool, p ports.Page) ([]T, string, error) {
	if !valid {
		return nil, "", fmt.Errorf("bolt: list %s by status: unknown status %q: %w", k.plural, status, ports.ErrInvalidArgument)
	}
	scans := []scan{{k.statusIdx, indexPrefix(status)}}
	if status == k.expired {
		for _, st := range k.lapsable {
			scans = append(scans, scan{k.statusIdx, indexPrefix(st)})
		}
	}
	keep := func(view T) bool { return k.status(view) == status }
	return listRecords(ctx, s, k, "by status", p, scans, keep)
}

// all reads every record in one read transaction.
func (k recordKind[T]) all(ctx context.Context, s *Store) ([]T, error) {
	var all []T
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(k.bucket).ForEach(func(id, raw []byte) error {
			rec, err := k.decode(string(id), raw)
			if err != nil {
				return fmt.Errorf("bolt: list %s: %w", k.plural, err)
			}
			all = append(all, rec)
			return nil
		})
	})
	return all, err
}

// exists reports whether a record (sound or not) is stored under id.
func (k recordKind[T]) exists(tx *bbolt.Tx, id string) bool {
	return tx.Bucket(k.bucket).Get([]byte(id)) != nil
}

// read decodes the record stored under id: ErrNotFound when absent,
// ErrCorrupt when undecodable.
func (k recordKind[T]) read(tx *bbolt.Tx, id string) (T, error) {
	raw := tx.Bucket(k.bucket).Get([]byte(id))
	if raw == nil {
		var zero T
		return zero, ports.ErrNotFound
	}
	return k.decode(id, raw)
}

// write stores rec and moves its index keys from old's to rec's, in the
// caller's transaction so record and indexes never disagree.
func (k recordKind[T]) write(tx *bbolt.Tx, old *T, rec T) error {
	if old != nil {
		for _, e := range k.indexes(*old) {
			if err := tx.Bucket(e.bucket).Delete(e.key); err != nil {
				return err
			}
		}
	}
	raw, err := k.encode(rec)
	if err != nil {
		return err
	}
	if err := tx.Bucket(k.bucket).Put([]byte(k.position(rec).ID), raw); err != nil {
		return err
	}
	for _, e := range k.indexes(rec) {
		if err := tx.Bucket(e.bucket).Put(e.key, []byte{}); err != nil {
			return err
		}
	}
	return nil
}

// expireLapsed stores expired for every lapsable record that has lapsed at
// now, in the caller's transaction: under the file lock nothing can change
// a record between the read and the write, so each change is conditional
// on what it just read.
func (k recordKind[T]) expireLapsed(tx *bbolt.Tx, now time.Time, count func(n int)) (int, error) {
	changed := 0
	for _, status := range k.lapsable {
		ids, err := idsUnder(tx, k.statusIdx, indexPrefix(status))
		if err != nil {
			return 0, err
		}
		count(len(ids))
		for _, id := range ids {
			stored, err := k.read(tx, id)
			if errors.Is(err, ports.ErrNotFound) {
				continue // a stale index entry names no record to expire
			}
			if err != nil {
				return 0, fmt.Errorf("bolt: expire lapsed %s: %w", k.plural, err)
			}
			if !k.lapsed(stored, now) {
				continue
			}
			rec := stored
			k.markExpired(&rec, now)
			*k.version(&rec)++
			if err := k.write(tx, &stored, rec); err != nil {
				return 0, err
			}
			changed++
		}
	}
	return changed, nil
}
