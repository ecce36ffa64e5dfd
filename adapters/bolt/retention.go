package bolt

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/ports"
)

var _ ports.RetentionSweeper = (*Store)(nil)

// DeleteRetired deletes the records retired at cutoff, in one write
// transaction: under the file lock nothing changes a record between the
// check and the delete. It walks each ended status's index keys oldest
// first and stops at the first created at or after cutoff (a record cannot
// have ended before it began), so its cost grows with the ended records
// created before cutoff, not with the store.
func (s *Store) DeleteRetired(ctx context.Context, cut ports.Cutoffs, archive func(ports.RetiredRecord) error) (ports.RetiredCounts, error) {

	var got ports.RetiredCounts
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		got = ports.RetiredCounts{}
		var err error
		if got.Sessions, err = deleteRetired(tx, s, sessionRecords, cut.Sessions, archive, ports.SessionRetirement); err != nil {
			return err
		}
		if got.Requests, err = deleteRetired(tx, s, requestRecords, cut.Requests, archive, ports.RequestRetirement); err != nil {
			return err
		}
		got.BreakGlass, err = deleteRetired(tx, s, eventRecords, cut.BreakGlass, archive, ports.BreakGlassRetirement)
		return err
	})
	if err != nil {
		return ports.RetiredCounts{}, err
	}
	return got, nil
}

// deleteRetired deletes one record type's retired records in tx.
func deleteRetired[T any](tx *bbolt.Tx, s *Store, k recordKind[T], cutoff time.Time, archive func(ports.RetiredRecord) error,
	how ports.Retirement[T],
) (int, error) {
	deleted := 0
	cutoff = cutoff.UTC()
	for _, status := range how.Ended {
		prefix := indexPrefix(status)
		bound := positionKey(cutoff, "")
		var ids []string
		c := tx.Bucket(k.statusIdx).Cursor()
		for key, _ := c.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix) && len(key) > len(prefix)+positionKeyLen; key, _ = c.Next() {
			if bytes.Compare(key[len(prefix):len(prefix)+positionKeyLen], bound[:positionKeyLen]) >= 0 {
				break // created at or after cutoff: nothing later has ended before it
			}
			ids = append(ids, string(key[len(prefix)+positionKeyLen:]))
		}
		s.countReads(len(ids))
		for _, id := range ids {
			rec, err := k.read(tx, id)
			if err != nil {
				return deleted, fmt.Errorf("bolt: delete retired %s: %s %q: %w", k.plural, k.noun, id, err)
			}
			if !how.Retired(rec, cutoff) {
				continue
			}
			if archive != nil {
				if err := archive(how.Record(rec)); err != nil {
					return deleted, fmt.Errorf("bolt: delete retired %s: archive %s %q: %w", k.plural, k.noun, id, err)
				}
			}
			if err := k.remove(tx, rec); err != nil {
				return deleted, err
			}
			deleted++
		}
	}
	return deleted, nil
}

// remove deletes rec and its index keys, in the caller's transaction.
func (k recordKind[T]) remove(tx *bbolt.Tx, rec T) error {
	for _, e := range k.indexes(rec) {
		if err := tx.Bucket(e.bucket).Delete(e.key); err != nil {
			return err
		}
	}
	return tx.Bucket(k.bucket).Delete([]byte(k.position(rec).ID))
}
