package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/ports"
)

var _ ports.RetentionSweeper = (*Store)(nil)

// deleteBody deletes a record and its index entries if its version is
// still the one the sweep judged; returns 1 when it deleted, else 0.
// ARGV: index base, id, version.
const deleteBody = `
local key, base, id = KEYS[1], ARGV[1], ARGV[2]
local old, code, why = load(key, id)
if not old then
  if code == NOT_FOUND then return 0 end
  return fail(code, why)
end
if old.version ~= ARGV[3] then return 0 end
unindex(base, old, old._pos .. id)
redis.call('DEL', key)
return 1
`

var (
	deleteSessionScript    = redis.NewScript(prelude(sessionKind.layout) + deleteBody)
	deleteRequestScript    = redis.NewScript(prelude(requestKind.layout) + deleteBody)
	deleteBreakGlassScript = redis.NewScript(prelude(breakGlassKind.layout) + deleteBody)
)

// retireBatch is how many index members one round trip reads.
const retireBatch = 256

// DeleteRetired deletes the records retired at cutoff. Sentinel sets no
// Redis TTL (the eviction-policy argument in the package doc stands): this
// sweep is how ended records leave. It reads each ended status's index
// oldest first, only the members created before cutoff, so its cost grows
// with those records, not with the store; each delete is a script that
// checks the version the sweep judged and removes the index entries with
// the record.
func (s *Store) DeleteRetired(ctx context.Context, cut ports.Cutoffs, archive func(ports.RetiredRecord) error) (ports.RetiredCounts, error) {
	var got ports.RetiredCounts
	if s.closed.Load() {
		return got, fmt.Errorf("redis: delete retired records: the store is closed: %w", ports.ErrUnavailable)
	}
	for _, c := range []time.Time{cut.Sessions, cut.Requests, cut.BreakGlass} {
		if !storable(c) {
			return got, fmt.Errorf("redis: delete retired records: cutoff %s outside the storable range: %w", c, ports.ErrInvalidArgument)
		}
	}
	var err error
	if got.Sessions, err = deleteRetired(ctx, s, sessionKind, deleteSessionScript, cut.Sessions, archive, ports.SessionRetirement); err != nil {
		return got, err
	}
	if got.Requests, err = deleteRetired(ctx, s, requestKind, deleteRequestScript, cut.Requests, archive, ports.RequestRetirement); err != nil {
		return got, err
	}
	got.BreakGlass, err = deleteRetired(ctx, s, breakGlassKind, deleteBreakGlassScript, cut.BreakGlass, archive, ports.BreakGlassRetirement)
	return got, err
}

func deleteRetired[T any](ctx context.Context, s *Store, k *kind[T], script *redis.Script, cutoff time.Time,
	archive func(ports.RetiredRecord) error, how ports.Retirement[T],
) (int, error) {
	what := "delete retired " + k.plural
	base := k.indexBase(s)
	deleted := 0
	var corrupted []error
	for _, status := range how.Ended {
		key := base + "status:" + status
		for from := "-"; ; {
			members, err := s.client.ZRangeByLex(ctx, key, &redis.ZRangeBy{Min: from, Max: "(" + positionOf(cutoff), Count: retireBatch}).Result()
			if err != nil {
				return deleted, mapError(what, err)
			}
			if len(members) == 0 {
				break
			}
			from = "(" + members[len(members)-1]
			ids := make([]string, 0, len(members))
			for _, m := range members {
				if id, ok := idOfMember(m); ok {
					ids = append(ids, id)
				}
			}
			found, err := k.readRecords(ctx, s, ids)
			if err != nil {
				return deleted, mapError(what, err)
			}
			for _, f := range found {
				switch {
				case f.err != nil:
					corrupted = append(corrupted, f.err)
					continue
				case f.fields == nil || !how.Retired(f.rec, cutoff):
					continue
				}
				if archive != nil {
					if err := archive(how.Record(f.rec)); err != nil {
						return deleted, fmt.Errorf("redis: %s: archive %s %q: %w", what, k.noun, f.id, err)
					}
				}
				rec := f.rec
				n, err := script.Run(ctx, s.client, []string{k.key(s, f.id)}, base, f.id, encodeInt(*k.version(&rec))).Int()
				if err != nil {
					return deleted, mapError(fmt.Sprintf("%s: %s %q", what, k.noun, f.id), err)
				}
				deleted += n
			}
			if len(members) < retireBatch {
				break
			}
		}
	}
	if len(corrupted) > 0 {
		return deleted, fmt.Errorf("redis: %s: kept %d that cannot be read: %w", what, len(corrupted), errors.Join(corrupted...))
	}
	return deleted, nil
}
