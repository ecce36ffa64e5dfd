package redisstore

import (
	"context"
	"testing"
)

// putForeignLock writes a hash field that is not a lock where the lock id
// lives.
func putForeignLock(t *testing.T, url string, store *Store, id string) {
	t.Helper()
	c := rawClient(t, url)
	defer c.Close()
	if err := c.HSet(context.Background(), store.locksKey(), id, `{"v":1,"lock":{"id":`).Err(); err != nil {
		t.Fatalf("write a foreign lock at %s: %v", id, err)
	}
}
