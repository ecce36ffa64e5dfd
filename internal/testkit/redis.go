package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DeleteRedisPrefix removes the keys a sentinel store with prefix wrote on
// the Redis server at url ({prefix}:...), found with SCAN. It never flushes
// anything: the server may be shared. It reports failures with t.Errorf, so
// it can run in a cleanup.
func DeleteRedisPrefix(t testing.TB, url, prefix string) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Errorf("redis URL: %v", err)
		return
	}
	client := redis.NewClient(opts)
	defer func() { _ = client.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := client.Scan(ctx, 0, "{"+prefix+"}:*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan the keys of %s: %v", prefix, err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := client.Del(ctx, keys[:n]...).Err(); err != nil {
			t.Errorf("delete the keys of %s: %v", prefix, err)
			return
		}
		keys = keys[n:]
	}
}
