package bolt

import (
	"context"

	bbolt "go.etcd.io/bbolt"
)

// PutRawForTest writes raw bytes as the record of id in the sessions
// bucket, leaving the indexes alone. Tests use it to plant corrupt records;
// it exists only in this package's test build.
func (s *Store) PutRawForTest(id string, raw []byte) error {
	return s.putRawForTest(bucketSessions, id, raw)
}

// putRawForTest writes raw bytes under id in the records bucket, leaving
// the indexes alone.
func (s *Store) putRawForTest(bucket []byte, id string, raw []byte) error {
	return s.update(context.Background(), func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).Put([]byte(id), raw)
	})
}
