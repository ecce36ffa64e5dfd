package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/ports"
)

// ListSessionsByUser lists the user's sessions, newest first.
func (s *Store) ListSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	belongs := func(r ports.Session) bool { return r.User == user }
	return s.list(ctx, fmt.Sprintf("list sessions by user %q", user), p, nil, s.scan("user", user, belongs))
}

// ListSessionsByProfile lists the profile's sessions, newest first.
func (s *Store) ListSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	belongs := func(r ports.Session) bool { return r.Profile == profile }
	return s.list(ctx, fmt.Sprintf("list sessions by profile %q", profile), p, nil, s.scan("profile", profile, belongs))
}

// ListSessionsByServerInstance lists the server instance's sessions, newest first.
func (s *Store) ListSessionsByServerInstance(ctx context.Context, instanceID string, p ports.Page) (ports.SessionPage, error) {
	belongs := func(r ports.Session) bool { return r.ServerInstanceID == instanceID }
	return s.list(ctx, fmt.Sprintf("list sessions by server instance %q", instanceID), p, nil, s.scan("instance", instanceID, belongs))
}

// ListSessionsByStatus lists the sessions whose effective status is status,
// newest first. The index holds stored statuses and a lapsed active session
// reads as expired: active reads the active index and drops lapsed ones;
// expired merges the expired index with the lapsed active ones.
func (s *Store) ListSessionsByStatus(ctx context.Context, status ports.SessionStatus, p ports.Page) (ports.SessionPage, error) {
	what := fmt.Sprintf("list sessions by status %q", status)
	if !status.Valid() {
		return ports.SessionPage{}, fmt.Errorf("redis: %s: unknown status: %w", what, ports.ErrInvalidArgument)
	}
	stored := func(st ports.SessionStatus) *indexScan {
		return s.scan("status", string(st), func(r ports.Session) bool { return r.Status == st })
	}
	scans := []*indexScan{stored(status)}
	if status == ports.SessionExpired {
		scans = append(scans, stored(ports.SessionActive))
	}
	keep := func(view ports.Session) bool { return view.Status == status }
	return s.list(ctx, what, p, keep, scans...)
}

// indexScan walks one index newest first, a batch at a time.
type indexScan struct {
	key string
	// belongs reports whether a stored record is still in this index; one
	// that moved after the index was read is left out.
	belongs func(ports.Session) bool
	buf     []string // members read but not yet taken, newest first
	bound   string   // ZREVRANGEBYLEX max for the next batch
	done    bool     // the index has nothing older than bound
}

func (s *Store) scan(kind, value string, belongs func(ports.Session) bool) *indexScan {
	return &indexScan{key: s.indexKey(kind, value), belongs: belongs}
}

// minBatch keeps filtered listings (active, expired) from reading an index
// a few members per round trip.
const minBatch = 32

// candidate is one index member taken for the page, in listing order.
type candidate struct {
	member string
	id     string
	from   *indexScan
}

// list reads one page from the union of scans, newest first, keeping the
// sessions (as they read now) that keep accepts; nil keeps all. Records are
// read after their index entries, each atomically but not as one snapshot:
// a session that moved in between is left out of this page.
func (s *Store) list(ctx context.Context, what string, p ports.Page, keep func(ports.Session) bool, scans ...*indexScan) (ports.SessionPage, error) {
	if s.closed.Load() {
		return ports.SessionPage{}, fmt.Errorf("redis: %s: the store is closed: %w", what, ports.ErrUnavailable)
	}
	after, resume, err := ports.CheckPage(p)
	if err != nil {
		return ports.SessionPage{}, fmt.Errorf("redis: %s: %w", what, err)
	}
	bound := "+"
	if resume {
		if !storable(after.CreatedAt) {
			return ports.SessionPage{}, fmt.Errorf("redis: %s: cursor time out of range: %w", what, ports.ErrInvalidArgument)
		}
		bound = "(" + memberOf(after.CreatedAt, after.ID)
	}
	for _, sc := range scans {
		sc.bound = bound
	}

	now := s.clock.Now()
	var found []ports.Session
	// One more than the limit tells whether a next page exists.
	for len(found) <= p.Limit {
		need := p.Limit + 1 - len(found)
		if err := s.refill(ctx, scans, max(need, minBatch)); err != nil {
			return ports.SessionPage{}, mapError(what, err)
		}
		picked, err := take(scans, need)
		if err != nil {
			return ports.SessionPage{}, mapError(what, err)
		}
		if len(picked) == 0 {
			break
		}
		recs, err := s.readRecords(ctx, picked)
		if err != nil {
			return ports.SessionPage{}, mapError(what, err)
		}
		for i, c := range picked {
			rec, ok := recs[i], recs[i].ID != ""
			if !ok || !c.from.belongs(rec) || memberOf(rec.CreatedAt, rec.ID) != c.member {
				continue
			}
			if view := effectiveAt(rec, now); keep == nil || keep(view) {
				found = append(found, view)
			}
		}
	}
	var page ports.SessionPage
	page.Sessions, page.Next = ports.CutPage(found, p.Limit, ports.SessionPosition)
	return page, nil
}

// refill reads the next batch of every scan whose buffer ran dry, in one pipeline.
func (s *Store) refill(ctx context.Context, scans []*indexScan, batch int) error {
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

// readRecords reads the records of picked in one pipeline. A missing record
// comes back as a zero Session; a corrupt one fails the whole read, naming it.
func (s *Store) readRecords(ctx context.Context, picked []candidate) ([]ports.Session, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(picked))
	for i, c := range picked {
		cmds[i] = pipe.HGetAll(ctx, s.recordKey(c.id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !isReply(err) {
		return nil, err
	}
	recs := make([]ports.Session, len(picked))
	for i, cmd := range cmds {
		id := picked[i].id
		fields, err := cmd.Result()
		if err != nil {
			return nil, fmt.Errorf("session %q: %w", id, err) // mapError names the id via this wrap
		}
		if len(fields) == 0 {
			continue // a stale index entry: no record to list
		}
		if recs[i], err = decodeRecord(id, fields); err != nil {
			return nil, err
		}
	}
	return recs, nil
}
