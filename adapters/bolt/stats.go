package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/ports"
)

var _ ports.StatsReader = (*Store)(nil)

// Stats counts each record type by stored status from its status index, in
// one read transaction. It walks the index keys (a few dozen bytes each)
// without decoding a record, so it costs a key scan of the file, not a
// read of every record; the oldest record is the first key of each status.
func (s *Store) Stats(ctx context.Context) (ports.StoreStats, error) {
	var st ports.StoreStats
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		for _, ix := range []struct {
			bucket []byte
			into   *ports.RecordStats
		}{
			{bucketStatus, &st.Sessions},
			{bucketReqStatus, &st.Requests},
			{bucketBGStatus, &st.BreakGlass},
		} {
			if err := statusStats(tx.Bucket(ix.bucket), ix.into); err != nil {
				return fmt.Errorf("bolt: store stats: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return ports.StoreStats{}, err
	}
	return st, nil
}

// statusStats counts the keys of one status index (indexKey: a
// length-prefixed status, then a position key) into r.
func statusStats(b *bbolt.Bucket, r *ports.RecordStats) error {
	c := b.Cursor()
	for k, _ := c.First(); k != nil; {
		if len(k) < 4 {
			return fmt.Errorf("index key %x too short: %w", k, ports.ErrCorrupt)
		}
		n := int(binary.BigEndian.Uint32(k[:4]))
		if len(k) <= 4+n+positionKeyLen {
			return fmt.Errorf("index key %x too short: %w", k, ports.ErrCorrupt)
		}
		status, prefix := string(k[4:4+n]), append([]byte{}, k[:4+n]...)
		// The first key of a status is its oldest record.
		pos := k[4+n:]
		secs := int64(binary.BigEndian.Uint64(pos[0:8]) ^ (1 << 63))   //nolint:gosec // G115: undoes positionKey's flip
		nanos := int64(binary.BigEndian.Uint32(pos[8:positionKeyLen])) //nolint:gosec // G115: 0..999999999
		r.NoteOldest(string(pos[positionKeyLen:]), time.Unix(secs, nanos))
		count := int64(0)
		for ; k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, _ = c.Next() {
			count++
		}
		r.Add(status, count)
	}
	return nil
}
