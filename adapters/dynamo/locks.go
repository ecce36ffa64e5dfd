package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/ports"
)

// The locks table, T-locks, is keyed by id and has no index: locks are few
// (an incident's worth), so both listings read the whole table with a
// strongly consistent Scan and sort in memory. The per-request check reads
// through core/lock's cache, so a busy server scans at most a few times a
// second, not once per request.
const (
	locksSuffix = "-locks"
	lockSchema  = "sentinel-lock/1"
)

// Attribute names of a lock item besides the shared ones (codec.go).
const (
	attrLockKind   = "kind"
	attrLockTarget = "target"
	attrLockReason = "reason"
	attrCreatedBy  = "created_by"
	attrEndedAt    = "ended_at"
	attrEndedBy    = "ended_by"
)

// endLockTries bounds EndLock's read-and-compare-and-set retries.
const endLockTries = 16

func (s *Store) locksTable() string { return s.table + locksSuffix }

var lockRecords = recordKind[ports.Lock]{
	noun: "lock", plural: "locks", table: (*Store).locksTable,
	schema: lockSchema, encode: encodeLock, decode: decodeLock, stored: storedLock,
	// A lock has no stored status to turn into expired: InForce decides.
	lapsed:      func(ports.Lock, time.Time) bool { return false },
	markExpired: func(*ports.Lock) {},
	position:    ports.LockPosition,
	status:      func(l ports.Lock) string { return string(l.Kind) },
	validStatus: func(k string) bool { return ports.LockKind(k).Valid() },
	version:     func(l *ports.Lock) *int64 { return &l.Version },
}

// storedLock returns l as the table keeps it: times truncated, in UTC.
func storedLock(l ports.Lock) ports.Lock {
	l.CreatedAt = truncate(l.CreatedAt)
	l.ExpiresAt = truncate(l.ExpiresAt)
	l.EndedAt = truncate(l.EndedAt)
	return l
}

// encodeLock returns the item for l, which must already be storedLock(l).
func encodeLock(l ports.Lock) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrID:          str(l.ID),
		attrSchema:      str(lockSchema),
		attrLockKind:    str(string(l.Kind)),
		attrVersion:     num(l.Version),
		attrCreatedSort: str(createdSort(l.CreatedAt, l.ID)),
	}
	setStrings(item, map[string]string{
		attrLockTarget: l.Target, attrLockReason: l.Reason, attrCreatedBy: l.CreatedBy, attrEndedBy: l.EndedBy,
	})
	setTimes(item, map[string]time.Time{attrCreatedAt: l.CreatedAt, attrExpiresAt: l.ExpiresAt, attrEndedAt: l.EndedAt})
	return item
}

// decodeLock reads the lock item stored under id; anything it cannot trust
// is an error wrapping ports.ErrCorrupt that names id.
func decodeLock(id string, item map[string]types.AttributeValue) (ports.Lock, error) {
	d := newDecoder(item, lockSchema)
	l := ports.Lock{
		ID:        d.str(attrID, true),
		Kind:      ports.LockKind(d.str(attrLockKind, true)),
		Target:    d.str(attrLockTarget, true),
		Reason:    d.str(attrLockReason, false),
		CreatedBy: d.str(attrCreatedBy, false),
		CreatedAt: d.time(attrCreatedAt),
		ExpiresAt: d.time(attrExpiresAt),
		EndedAt:   d.time(attrEndedAt),
		EndedBy:   d.str(attrEndedBy, false),
		Version:   d.int(attrVersion, true),
	}
	if err := d.done("lock", id, ports.LockPosition(l), l.Kind.Valid(), string(l.Kind), l.Version); err != nil {
		return ports.Lock{}, err
	}
	return l, nil
}

// CreateLock stores l with Version 1, only if no item has its id.
func (s *Store) CreateLock(ctx context.Context, l ports.Lock) (ports.Lock, error) {
	if err := l.Check(); err != nil {
		return ports.Lock{}, fmt.Errorf("dynamo: create: %w", err)
	}
	return createRecord(ctx, s, lockRecords, l)
}

// GetLock reads the lock with a strongly consistent read.
func (s *Store) GetLock(ctx context.Context, id string) (ports.Lock, error) {
	return getRecord(ctx, s, lockRecords, id)
}

// EndLock reads the lock, applies ports.Lock.End and writes it back on
// condition that its version is still the one read; a concurrent write
// makes it read again, so a second unlock sees the first and is refused.
func (s *Store) EndLock(ctx context.Context, id, by string, at time.Time) (ports.Lock, error) {
	for range endLockTries {
		stored, err := getRecord(ctx, s, lockRecords, id)
		if err != nil {
			return ports.Lock{}, fmt.Errorf("dynamo: end lock: %w", err)
		}
		ended, err := stored.End(by, at)
		if err != nil {
			return ports.Lock{}, fmt.Errorf("dynamo: end: %w", err)
		}
		got, err := updateRecord(ctx, s, lockRecords, ended)
		if errors.Is(err, ports.ErrConflict) {
			continue
		}
		return got, err
	}
	return ports.Lock{}, fmt.Errorf("dynamo: end lock %q: the item kept changing: %w", id, ports.ErrConflict)
}

// ListActiveLocks returns the locks in force at now, newest first.
func (s *Store) ListActiveLocks(ctx context.Context, now time.Time) ([]ports.Lock, error) {
	return ports.AllLocks(s.allLocks).ListActive(ctx, now)
}

// ListLocks lists every lock, newest first.
func (s *Store) ListLocks(ctx context.Context, p ports.Page) (ports.LockPage, error) {
	return ports.AllLocks(s.allLocks).ListPage(ctx, p)
}

// allLocks scans the whole locks table, page by page.
func (s *Store) allLocks(ctx context.Context) ([]ports.Lock, error) {
	const what = "list locks"
	table := s.locksTable()
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	var all []ports.Lock
	for {
		out, err := s.client.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("dynamo: %s: %w", what, mapError(table, s.storeURL, nil, err))
		}
		for _, item := range out.Items {
			id := itemID(item)
			l, err := decodeLock(id, item)
			if err != nil {
				return nil, fmt.Errorf("dynamo: %s: %w", what, err)
			}
			all = append(all, l)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return all, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
