package redisstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/ports"
)

// listBy lists the records under value in the index named ix, newest first.
func (k *kind[T]) listBy(ctx context.Context, s *Store, ix, value string, p ports.Page) ([]T, string, error) {
	what := fmt.Sprintf("list %s by %s %q", k.plural, ix, value)
	return k.list(ctx, s, what, p, nil, k.scan(s, ix, value))
}

// listByStatus lists the records whose effective status is status, newest
// first. The index holds stored statuses and a lapsed record reads as
// expired: a lapsing status reads its index and drops the lapsed ones;
// expired merges its index with the lapsed records of every lapsing one.
func (k *kind[T]) listByStatus(ctx context.Context, s *Store, status string, p ports.Page) ([]T, string, error) {
	what := fmt.Sprintf("list %s by status %q", k.plural, status)
	if !slices.Contains(k.statuses, status) {
		return nil, "", fmt.Errorf("redis: %s: unknown status: %w", what, ports.ErrInvalidArgument)
	}
	scans := []*indexScan{k.scan(s, "status", status)}
	if status == k.expired {
		for _, st := range k.lapsing {
			scans = append(scans, k.scan(s, "status", st))
		}
	}
	keep := func(view T) bool { return k.status(view) == status }
	return k.list(ctx, s, what, p, keep, scans...)
}

// indexScan walks one index newest first, a batch at a time.
type indexScan struct {
	key   string
	ix    index
	value string
	buf   []string // members read but not yet taken, newest first
	bound string   // ZREVRANGEBYLEX max for the next batch
	done  bool     // the index has nothing older than bound
}

func (k *kind[T]) scan(s *Store, name, value string) *indexScan {
	i := slices.IndexFunc(k.indexes, func(ix index) bool { return ix.name == name })
	return &indexScan{key: k.indexBase(s) + name + ":" + value, ix: k.indexes[i], value: value}
}

// minBatch keeps filtered listings (by status) from reading an index a few
// members per round trip.
const minBatch = 32

// candidate is one index member taken for the page, in listing order.
type candidate struct {
	member string
	id     string
	from   *indexScan
}

// list reads one page from the union of scans, newest first, keeping the
// records (as they read now) that keep accepts; nil keeps all. Records are
// read after their index entries, each atomically but not as one snapshot:
// a record that moved in between is left out of this page. A corrupt
// record the page reaches fails the listing, naming it.
func (k *kind[T]) list(ctx context.Context, s *Store, what string, p ports.Page, keep func(T) bool, scans ...*indexScan) ([]T, string, error) {
	if s.closed.Load() {
		return nil, "", fmt.Errorf("redis: %s: the store is closed: %w", what, ports.ErrUnavailable)
	}
	after, resume, err := ports.CheckPage(p)
	if err != nil {
		return nil, "", fmt.Errorf("redis: %s: %w", what, err)
	}
	bound := "+"
	if resume {
		if !storable(after.CreatedAt) {
			return nil, "", fmt.Errorf("redis: %s: cursor time out of range: %w", what, ports.ErrInvalidArgument)
		}
		bound = "(" + memberOf(after.CreatedAt, after.ID)
	}
	for _, sc := range scans {
		sc.bound = bound
	}

	now := s.clock.Now()
	var found []T
	// One more than the limit tells whether a next page exists.
	for len(found) <= p.Limit {
		need := p.Limit + 1 - len(found)
		if err := refill(ctx, s, scans, max(need, minBatch)); err != nil {
			return nil, "", mapError(what, err)
		}
		picked, err := take(scans, need)
		if err != nil {
			return nil, "", mapError(what, err)
		}
		if len(picked) == 0 {
			break
		}
		ids := make([]string, len(picked))
		for i, c := range picked {
			ids[i] = c.id
		}
		recs, err := k.readRecords(ctx, s, ids)
		if err != nil {
			return nil, "", mapError(what, err)
		}
		for i, c := range picked {
			r := recs[i]
			switch {
			case r.err != nil:
				return nil, "", mapError(what, r.err)
			case r.fields == nil, !c.from.ix.holds(r.fields, c.from.value), memberOf(k.position(r.rec).CreatedAt, r.id) != c.member:
				continue // a stale index entry: no record, or one that moved
			}
			if view := k.effective(r.rec, now); keep == nil || keep(view) {
				found = append(found, view)
			}
		}
	}
	items, next := ports.CutPage(found, p.Limit, k.position)
	return items, next, nil
}

// refill reads the next batch of every scan whose buffer ran dry, in one pipeline.
func refill(ctx context.Context, s *Store, scans []*indexScan, batch int) error {
	var dry []*indexScan
	for _, sc := range scans {
		if len(sc.buf) == 0 && !sc.done {
			dry = append(dry, sc)
		}
	}
	if len(dry) == 0 {
		return nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.StringSliceCmd, len(dry))
	for i, sc := range dry {
		cmds[i] = pipe.ZRevRangeByLex(ctx, sc.key, &redis.ZRangeBy{Max: sc.bound, Min: "-", Count: int64(batch)})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	for i, sc := range dry {
		sc.buf = cmds[i].Val()
		sc.done = len(sc.buf) < batch
	}
	return nil
}

// take pops up to n members, newest first across scans. It stops early when
// a scan that may hold newer members has an empty buffer: it needs a refill
// before anything can be compared with it.
func take(scans []*indexScan, n int) ([]candidate, error) {
	var out []candidate
	for len(out) < n {
		var best *indexScan
		for _, sc := range scans {
			if len(sc.buf) == 0 {
				if !sc.done {
					return out, nil
				}
				continue
			}
			if best == nil || sc.buf[0] > best.buf[0] {
				best = sc
			}
		}
		if best == nil {
			return out, nil
		}
		member := best.buf[0]
		best.buf = best.buf[1:]
		best.bound = "(" + member
		id, ok := idOfMember(member)
		if !ok {
			return nil, fmt.Errorf("index %s holds a malformed member %q: %w", best.key, member, ports.ErrCorrupt)
		}
		out = append(out, candidate{member: member, id: id, from: best})
	}
	return out, nil
}
