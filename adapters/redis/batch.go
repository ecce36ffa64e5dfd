package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/internal/gather"
)

// maxBatch bounds one pipeline of gathered record reads.
const maxBatch = 128

// newGets gathers record reads: the HGETALLs asked for while one is on the
// wire go out as the next pipeline (internal/gather), one write and one
// read on a connection for many reads, on this side and on the server's.
func newGets(client redis.UniversalClient) *gather.Group[string, map[string]string] {
	return gather.New(maxBatch, func(ctx context.Context, keys []string) []gather.Result[map[string]string] {
		out := make([]gather.Result[map[string]string], len(keys))
		if len(keys) == 1 {
			out[0].Value, out[0].Err = client.HGetAll(ctx, keys[0]).Result()
			return out
		}
		cmds := make([]*redis.MapStringStringCmd, len(keys))
		_, _ = client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.HGetAll(ctx, k)
			}
			return nil
		})
		for i, cmd := range cmds {
			out[i].Value, out[i].Err = cmd.Result()
		}
		return out
	})
}
