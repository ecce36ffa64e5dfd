package bolt

import (
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/ports"
)

// recordKind is how one record type is stored: its bucket, codec, index
// keys and expiry on read. Sessions, approval requests and break-glass
// events share the code that reads, writes and lists through it.
type recordKind[T any] struct {
	plural    string // "sessions", "requests", "break-glass events", for messages
	bucket    []byte
	statusIdx []byte // the index by stored status
	encode    func(T) ([]byte, error)
	decode    func(id string, raw []byte) (T, error)
	indexes   func(T) []indexEntry
	effective func(T, time.Time) T
	position  func(T) ports.Position
}

var (
	sessionRecords = recordKind[ports.Session]{
		plural: "sessions", bucket: bucketSessions, statusIdx: bucketStatus,
		encode: encodeSession, decode: decodeSession, indexes: indexEntries,
		effective: effectiveAt, position: ports.SessionPosition,
	}
	requestRecords = recordKind[ports.ApprovalRequest]{
		plural: "requests", bucket: bucketRequests, statusIdx: bucketReqStatus,
		encode: encodeRequest, decode: decodeRequest, indexes: requestIndexEntries,
		effective: effectiveRequest, position: ports.RequestPosition,
	}
	eventRecords = recordKind[ports.BreakGlassEvent]{
		plural: "break-glass events", bucket: bucketBreakGlass, statusIdx: bucketBGStatus,
		encode: encodeEvent, decode: decodeEvent, indexes: eventIndexEntries,
		effective: effectiveEvent, position: ports.BreakGlassPosition,
	}
)

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

// expireLapsed stores expired (via expire) for every record under the
// given status index prefixes that has lapsed at now, in the caller's
// transaction: under the file lock nothing can change a record between the
// read and the write, so each change is conditional on what it just read.
func (k recordKind[T]) expireLapsed(tx *bbolt.Tx, statuses []string, lapsed func(T) bool, expire func(*T)) (int, error) {
	changed := 0
	for _, status := range statuses {
		ids, err := idsUnder(tx, k.statusIdx, indexPrefix(status))
		if err != nil {
			return 0, err
		}
		for _, id := range ids {
			stored, err := k.read(tx, id)
			if errors.Is(err, ports.ErrNotFound) {
				continue // a stale index entry names no record to expire
			}
			if err != nil {
				return 0, fmt.Errorf("bolt: expire lapsed %s: %w", k.plural, err)
			}
			if !lapsed(stored) {
				continue
			}
			rec := stored
			expire(&rec)
			if err := k.write(tx, &stored, rec); err != nil {
				return 0, err
			}
			changed++
		}
	}
	return changed, nil
}
