package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/ports"
)

var _ ports.StatsReader = (*Store)(nil)

// Stats counts each record type by stored status with ZCARD of its status
// indexes and takes the oldest as the first member of each (they sort by
// CreatedAt): one pipeline, whatever the number of records. An index entry
// whose record is gone (a stale entry the listings skip) still counts.
func (s *Store) Stats(ctx context.Context) (ports.StoreStats, error) {
	const what = "store stats"
	if s.closed.Load() {
		return ports.StoreStats{}, fmt.Errorf("redis: %s: the store is closed: %w", what, ports.ErrUnavailable)
	}
	var st ports.StoreStats
	type query struct {
		into   *ports.RecordStats
		status string
		card   *redis.IntCmd
		first  *redis.StringSliceCmd
	}
	var qs []query
	pipe := s.client.Pipeline()
	add := func(into *ports.RecordStats, base string, statuses []string) {
		for _, status := range statuses {
			key := base + "status:" + status
			qs = append(qs, query{into: into, status: status,
				card: pipe.ZCard(ctx, key), first: pipe.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: 0, Stop: 0})})
		}
	}
	add(&st.Sessions, sessionKind.indexBase(s), sessionKind.statuses)
	add(&st.Requests, requestKind.indexBase(s), requestKind.statuses)
	add(&st.BreakGlass, breakGlassKind.indexBase(s), breakGlassKind.statuses)
	if _, err := pipe.Exec(ctx); err != nil {
		return ports.StoreStats{}, mapError(what, err)
	}
	for _, q := range qs {
		q.into.Add(q.status, q.card.Val())
		if first := q.first.Val(); len(first) == 1 {
			at, id, err := positionOfMember(first[0])
			if err != nil {
				return ports.StoreStats{}, mapError(what, err)
			}
			q.into.NoteOldest(id, at)
		}
	}
	return st, nil
}

// positionOfMember reverses memberOf.
func positionOfMember(member string) (time.Time, string, error) {
	id, ok := idOfMember(member)
	if !ok {
		return time.Time{}, "", fmt.Errorf("malformed index member %q: %w", member, ports.ErrCorrupt)
	}
	u, err := strconv.ParseUint(member[:positionLen], 16, 64)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("malformed index member %q: %w", member, ports.ErrCorrupt)
	}
	return time.UnixMicro(int64(u ^ (1 << 63))).UTC(), id, nil //nolint:gosec // G115: undoes positionOf's flip
}
