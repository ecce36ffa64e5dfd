// Package redisstore is the Redis implementation of ports.SessionStore, for
// shops where many credential servers share one store and every request
// reads it.
//
// Layout, for a store prefix P (keys carry "{P}" as their hash tag):
//
//	{P}:session:<id>            hash: the record (see codec.go for the fields)
//	{P}:idx:user:<user>         sorted set: one member per session of the user
//	{P}:idx:profile:<profile>   sorted set, likewise
//	{P}:idx:status:<status>     sorted set, by stored status
//	{P}:idx:instance:<id>       sorted set, by server instance
//	{P}:events                  pub/sub channel of status changes (see Event)
//
// Index members all have score 0 and read "<16 hex digits of CreatedAt>"
// followed by the id, so Redis keeps them in (CreatedAt, ID) order bytewise
// and a listing is one ZREVRANGEBYLEX with an exclusive bound taken from the
// cursor: exact for every microsecond time, which float64 scores are not.
//
// The hash tag puts every key of one prefix in one Redis Cluster slot, so
// the Lua scripts can change a record and its indexes atomically. The price:
// one prefix lives on one shard; shops that outgrow a shard use several
// prefixes (one per region or fleet), not one big one.
//
// Every write is a Lua script (see scripts.go); reads are single commands or
// pipelines. Expiry is decided on read with the injected clock; there is no
// Redis TTL on records. A write that changes a session's status (revoke,
// expiry) also publishes an Event on {P}:events, inside the same script.
package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/ports"
)

// DefaultPrefix namespaces keys when no prefix is given.
const DefaultPrefix = "sentinel"

// Bounded defaults, so a dead or unreachable Redis fails fast instead of
// stalling a credential request.
const (
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = time.Second
	DefaultWriteTimeout = time.Second
)

// Options say where the Redis server is and how to talk to it.
type Options struct {
	// Addr is host:port.
	Addr     string
	Username string
	Password string
	// DB is the database number; Redis Cluster has only 0.
	DB  int
	TLS bool
	// Cluster talks the Redis Cluster protocol to Addr (any node of the cluster).
	Cluster bool
	// Prefix namespaces every key; empty means DefaultPrefix.
	Prefix string
	// Zero means DefaultDialTimeout, DefaultReadTimeout, DefaultWriteTimeout.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
}

// Store is a ports.SessionStore on Redis, safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	owned  bool // Open made client, so Close closes it
	clock  ports.Clock

	records string // "{P}:session:"
	indexes string // "{P}:idx:"
	events  string // "{P}:events"
	closed  atomic.Bool
}

var _ ports.SessionStore = (*Store)(nil)

// Open connects to the server opts names and checks it answers. The client
// never re-sends a command on its own: a write whose reply was lost is
// reported as ports.ErrUnavailable rather than applied twice.
func Open(ctx context.Context, opts Options, clock ports.Clock) (*Store, error) {
	if opts.Addr == "" {
		return nil, fmt.Errorf("redis: open: empty address: %w", ports.ErrInvalidArgument)
	}
	if clock == nil {
		return nil, fmt.Errorf("redis: open %s: nil clock: %w", opts.Addr, ports.ErrInvalidArgument)
	}
	if opts.Cluster && opts.DB != 0 {
		return nil, fmt.Errorf("redis: open %s: Redis Cluster has only database 0, not %d: %w", opts.Addr, opts.DB, ports.ErrInvalidArgument)
	}
	if opts.DialTimeout < 0 || opts.ReadTimeout < 0 || opts.WriteTimeout < 0 {
		return nil, fmt.Errorf("redis: open %s: negative timeout: %w", opts.Addr, ports.ErrInvalidArgument)
	}
	opts.DialTimeout = orDefault(opts.DialTimeout, DefaultDialTimeout)
	opts.ReadTimeout = orDefault(opts.ReadTimeout, DefaultReadTimeout)
	opts.WriteTimeout = orDefault(opts.WriteTimeout, DefaultWriteTimeout)
	uo := &redis.UniversalOptions{
		Addrs:         []string{opts.Addr},
		Username:      opts.Username,
		Password:      opts.Password,
		DB:            opts.DB,
		IsClusterMode: opts.Cluster,
		DialTimeout:   opts.DialTimeout,
		ReadTimeout:   opts.ReadTimeout,
		WriteTimeout:  opts.WriteTimeout,
		// Waiting for a free connection is bounded like a read.
		PoolTimeout: opts.ReadTimeout,
		// One dial per attempt and no re-sent commands: a dead server costs
		// one DialTimeout, and a write is never applied twice.
		DialerRetries: 1,
		MaxRetries:    -1,
	}
	if opts.TLS {
		host, _, err := net.SplitHostPort(opts.Addr)
		if err != nil {
			host = opts.Addr
		}
		uo.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	}
	client := redis.NewUniversalClient(uo)

	pingCtx, cancel := context.WithTimeout(ctx, opts.DialTimeout+opts.ReadTimeout)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		_ = client.Close()
		return nil, reachError(opts.Addr, err)
	}
	s := New(client, opts.Prefix, clock)
	s.owned = true
	return s, nil
}

// reachError explains a failed first PING, naming the address and never
// the password.
func reachError(addr string, err error) error {
	if redis.IsAuthError(err) || redis.IsPermissionError(err) {
		return fmt.Errorf("redis: %s refused sentinel's credentials: %w: %w; check the user and password in --store",
			addr, err, ports.ErrUnavailable)
	}
	return fmt.Errorf("redis: cannot reach %s: %w: %w; is redis-server running? check --store", addr, err, ports.ErrUnavailable)
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// New wraps a client the caller owns (Close leaves it open). An empty prefix
// means DefaultPrefix: "{}" would hash every key to its own slot.
func New(client redis.UniversalClient, prefix string, clock ports.Clock) *Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	tag := "{" + prefix + "}:"
	return &Store{
		client:  client,
		clock:   clock,
		records: tag + "session:",
		indexes: tag + "idx:",
		events:  tag + "events",
	}
}

// Close closes the client if Open made it. Later calls fail with ports.ErrUnavailable.
func (s *Store) Close() error {
	if s.closed.Swap(true) || !s.owned {
		return nil
	}
	return s.client.Close()
}

func (s *Store) recordKey(id string) string { return s.records + id }

func (s *Store) indexKey(kind, value string) string { return s.indexes + kind + ":" + value }

// check refuses work on a closed store and an empty id.
func (s *Store) check(what, id string) error {
	if s.closed.Load() {
		return fmt.Errorf("redis: %s: the store is closed: %w", what, ports.ErrUnavailable)
	}
	if id == "" {
		return fmt.Errorf("redis: %s: empty id: %w", what, ports.ErrInvalidArgument)
	}
	return nil
}

// checkWrite validates a record a caller wants stored.
func checkWrite(what string, in ports.Session) error {
	if !in.Status.Valid() {
		return fmt.Errorf("redis: %s: unknown status %q: %w", what, in.Status, ports.ErrInvalidArgument)
	}
	if err := checkStorable(in); err != nil {
		return fmt.Errorf("redis: %s: %w", what, err)
	}
	return nil
}

// indexArgs are the script arguments every write that moves indexes starts with.
func (s *Store) indexArgs(rec ports.Session) []any {
	return []any{s.indexes, memberOf(rec.CreatedAt, rec.ID), rec.User, rec.Profile, string(rec.Status), rec.ServerInstanceID}
}

// CreateSession stores in as given with Version 1.
func (s *Store) CreateSession(ctx context.Context, in ports.Session) (ports.Session, error) {
	what := fmt.Sprintf("create session %q", in.ID)
	if err := s.check(what, in.ID); err != nil {
		return ports.Session{}, err
	}
	if err := checkWrite(what, in); err != nil {
		return ports.Session{}, err
	}
	rec := inUTC(in)
	rec.Version = 1
	args := append(s.indexArgs(rec), recordFields(rec)...)
	args = append(args, fieldVersion, "1")
	if err := createScript.Run(ctx, s.client, []string{s.recordKey(rec.ID)}, args...).Err(); err != nil {
		return ports.Session{}, mapError(what, err)
	}
	return effectiveAt(rec, s.clock.Now()), nil
}

// GetSession returns the session as it reads now.
func (s *Store) GetSession(ctx context.Context, id string) (ports.Session, error) {
	what := fmt.Sprintf("get session %q", id)
	if err := s.check(what, id); err != nil {
		return ports.Session{}, err
	}
	fields, err := s.client.HGetAll(ctx, s.recordKey(id)).Result()
	if err != nil {
		return ports.Session{}, mapError(what, err)
	}
	if len(fields) == 0 {
		return ports.Session{}, mapError(what, ports.ErrNotFound)
	}
	rec, err := decodeRecord(id, fields)
	if err != nil {
		return ports.Session{}, mapError(what, err)
	}
	return effectiveAt(rec, s.clock.Now()), nil
}

// UpdateSession replaces the record when the stored Version equals in.Version.
func (s *Store) UpdateSession(ctx context.Context, in ports.Session) (ports.Session, error) {
	what := fmt.Sprintf("update session %q", in.ID)
	if err := s.check(what, in.ID); err != nil {
		return ports.Session{}, err
	}
	if err := checkWrite(what, in); err != nil {
		return ports.Session{}, err
	}
	rec := inUTC(in)
	args := append(s.indexArgs(rec), strconv.FormatInt(rec.Version, 10), s.events, rec.ID)
	args = append(args, recordFields(rec)...)
	reply, err := updateScript.Run(ctx, s.client, []string{s.recordKey(rec.ID)}, args...).Text()
	if err != nil {
		return ports.Session{}, mapError(what, err)
	}
	if rec.Version, err = strconv.ParseInt(reply, 10, 64); err != nil {
		return ports.Session{}, mapError(what, corrupt(rec.ID, fmt.Sprintf("version %q after the update", reply)))
	}
	return effectiveAt(rec, s.clock.Now()), nil
}

// TouchSession adds n requests and moves LastAccessAt forward to at, and
// UpdatedAt forward to the clock's now.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time, n int64) (ports.Session, error) {
	what := fmt.Sprintf("touch session %q", id)
	if err := s.check(what, id); err != nil {
		return ports.Session{}, err
	}
	if n < 0 {
		return ports.Session{}, fmt.Errorf("redis: %s: negative count %d: %w", what, n, ports.ErrInvalidArgument)
	}
	now := s.clock.Now()
	if !storable(at) || !storable(now) {
		return ports.Session{}, fmt.Errorf("redis: %s: time outside the storable range: %w", what, ports.ErrInvalidArgument)
	}
	reply, err := touchScript.Run(ctx, s.client, []string{s.recordKey(id)},
		id, strconv.FormatInt(n, 10), encodeTime(at), encodeTime(now)).Result()
	if err != nil {
		return ports.Session{}, mapError(what, err)
	}
	fields, ok := fieldMap(reply)
	if !ok {
		return ports.Session{}, mapError(what, corrupt(id, "the touch returned no field list"))
	}
	rec, err := decodeRecord(id, fields)
	if err != nil {
		return ports.Session{}, mapError(what, err)
	}
	return effectiveAt(rec, now), nil
}

// expireBatch is how many active index members one sweep round reads.
const expireBatch = 256

// ExpireLapsedSessions marks every active session whose lease ended at or
// before now as expired. It reads the active index in batches, picks the
// lapsed records, and expires each with a script that checks again, so a
// concurrent revoke always wins. Corrupt records are skipped and reported
// after the sweep in an error wrapping ports.ErrCorrupt; on any error the
// count is of the sessions changed before it.
func (s *Store) ExpireLapsedSessions(ctx context.Context, now time.Time) (int, error) {
	const what = "expire lapsed sessions"
	if s.closed.Load() {
		return 0, fmt.Errorf("redis: %s: the store is closed: %w", what, ports.ErrUnavailable)
	}
	if !storable(now) {
		return 0, fmt.Errorf("redis: %s: now %s outside the storable range: %w", what, now, ports.ErrInvalidArgument)
	}
	nowArg := encodeTime(now)
	active := s.indexKey("status", string(ports.SessionActive))
	changed := 0
	var corruptIDs []string
	for from := "-"; ; {
		members, err := s.client.ZRangeByLex(ctx, active, &redis.ZRangeBy{Min: from, Max: "+", Count: expireBatch}).Result()
		if err != nil {
			return changed, mapError(what, err)
		}
		lapsed, bad, err := s.lapsedAmong(ctx, members, now)
		if err != nil {
			return changed, mapError(what, err)
		}
		corruptIDs = append(corruptIDs, bad...)
		for _, id := range lapsed {
			n, err := expireScript.Run(ctx, s.client, []string{s.recordKey(id)}, s.indexes, nowArg, s.events, id).Int()
			err = mapError(fmt.Sprintf("expire session %q", id), err)
			switch {
			case errors.Is(err, ports.ErrNotFound):
			case errors.Is(err, ports.ErrCorrupt):
				corruptIDs = append(corruptIDs, id)
			case err != nil:
				return changed, err
			default:
				changed += n
			}
		}
		if len(members) < expireBatch {
			break
		}
		from = "(" + members[len(members)-1]
	}
	if len(corruptIDs) > 0 {
		return changed, fmt.Errorf("redis: %s: skipped %d corrupt record(s) %q: %w", what, len(corruptIDs), corruptIDs, ports.ErrCorrupt)
	}
	return changed, nil
}

// lapsedAmong reads the records the active index members name (one
// pipeline) and returns the ids that read lapsed at now, and the ids whose
// records are corrupt. Missing records (stale index entries) are skipped.
func (s *Store) lapsedAmong(ctx context.Context, members []string, now time.Time) (lapsed, bad []string, err error) {
	if len(members) == 0 {
		return nil, nil, nil
	}
	ids := make([]string, 0, len(members))
	for _, m := range members {
		if id, ok := idOfMember(m); ok {
			ids = append(ids, id)
		}
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.recordKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !isReply(err) {
		return nil, nil, err
	}
	for i, cmd := range cmds {
		fields, err := cmd.Result()
		switch {
		case err != nil && !isReply(err):
			return nil, nil, err
		case err != nil: // WRONGTYPE: not a hash
			bad = append(bad, ids[i])
		case len(fields) == 0:
		default:
			rec, err := decodeRecord(ids[i], fields)
			if err != nil {
				bad = append(bad, ids[i])
			} else if rec.Lapsed(now) {
				lapsed = append(lapsed, ids[i])
			}
		}
	}
	return lapsed, bad, nil
}

// isReply reports whether err is an error reply from the server to one
// command, rather than a failure of the connection.
func isReply(err error) bool {
	var reply redis.Error
	return errors.As(err, &reply)
}
