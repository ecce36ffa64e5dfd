// Package redisstore is the Redis implementation of ports.Stores (sessions,
// approval requests, break-glass events), for shops where many credential
// servers share one store and every request reads it.
//
// Layout, for a store prefix P (keys carry "{P}" as their hash tag):
//
//	{P}:session:<id>                    hash: a session (fields in sessions.go)
//	{P}:idx:user:<user>                 sorted set: one member per session of the user
//	{P}:idx:profile:<profile>           sorted set, likewise
//	{P}:idx:status:<status>             sorted set, by stored status
//	{P}:idx:instance:<id>               sorted set, by server instance
//	{P}:request:<id>                    hash: an approval request (approvals.go)
//	{P}:idx:request:requester:<user>    sorted sets by requester, profile and
//	{P}:idx:request:profile:<profile>   stored status
//	{P}:idx:request:status:<status>
//	{P}:breakglass:<id>                 hash: a break-glass event (breakglass.go)
//	{P}:idx:breakglass:invoker:<user>   sorted sets by invoker, profile and
//	{P}:idx:breakglass:profile:<p>      stored status
//	{P}:idx:breakglass:status:<status>
//	{P}:idx:breakglass:active:<pair>    the events stored active for one
//	                                    invoker and profile, see index.value
//	{P}:events                          pub/sub channel of status changes (see Event)
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
// pipelines. The three record types share one code path (records.go), each
// described by a layout. Expiry is decided on read with the injected clock;
// there is no Redis TTL on records. A write that changes a record's status
// (revoke, approve, cancel, close, expiry; a new request or break-glass
// event too) also publishes an Event on {P}:events, inside the same script.
package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/internal/gather"
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
	// TLSConfig is the TLS configuration (trusted CAs, a client
	// certificate); setting it implies TLS. Nil with TLS means the system
	// roots. An empty ServerName checks each node's certificate against the
	// host it is dialled at, which a cluster needs.
	TLSConfig *tls.Config
	// Cluster talks the Redis Cluster protocol to Addr (any node of the cluster).
	Cluster bool
	// Prefix namespaces every key; empty means DefaultPrefix.
	Prefix string
	// Zero means DefaultDialTimeout, DefaultReadTimeout, DefaultWriteTimeout.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
}

// Store is a ports.Stores on Redis (sessions, approval requests and
// break-glass events), safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	owned  bool // Open made client, so Close closes it
	clock  ports.Clock

	tag    string // "{P}:", the start of every key
	events string // "{P}:events"
	closed atomic.Bool
	gets   *gather.Group[string, map[string]string] // record reads, pipelined under load (batch.go)
}

var _ ports.Stores = (*Store)(nil)

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
	if opts.TLS || opts.TLSConfig != nil {
		uo.TLSConfig = tlsConfig(opts.TLSConfig)
	}
	client := redis.NewUniversalClient(uo)

	pingCtx, cancel := context.WithTimeout(ctx, opts.DialTimeout+opts.ReadTimeout)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		_ = client.Close()
		return nil, firstReachError(opts.Addr, uo.TLSConfig != nil, err)
	}
	if err := checkEviction(pingCtx, client, opts.Addr); err != nil {
		_ = client.Close()
		return nil, err
	}
	s := New(client, opts.Prefix, clock)
	s.owned = true
	return s, nil
}

// evictionSafe reports whether a maxmemory-policy can never evict
// sentinel's keys. noeviction never evicts: a full server refuses writes
// (reported as ports.ErrUnavailable) and loses nothing. The volatile-*
// policies evict only keys that carry a TTL, and sentinel sets none (see
// the package doc; TestSentinelKeysCarryNoTTL pins it). allkeys-* may evict
// any key: a session record or index gone, a revoke finds nothing to
// revoke. A policy this code does not know is refused, not guessed at.
func evictionSafe(policy string) bool {
	return policy == "noeviction" || strings.HasPrefix(policy, "volatile-")
}

// checkEviction refuses a server (every master of a cluster) whose
// maxmemory-policy may evict sentinel's keys, with ports.ErrInvalidArgument
// and the fix. A server that does not allow CONFIG GET (an ACL without
// +config|get, a managed Redis that renamed or disabled CONFIG) answers with
// an error reply and cannot be checked here; docs/stores.md says what to set.
func checkEviction(ctx context.Context, client redis.UniversalClient, addr string) error {
	if cc, ok := client.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return checkNodeEviction(ctx, node, node.Options().Addr)
		})
	}
	return checkNodeEviction(ctx, client, addr)
}

func checkNodeEviction(ctx context.Context, c redis.Cmdable, addr string) error {
	got, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
	var reply redis.Error
	switch {
	case errors.As(err, &reply):
		return nil // CONFIG GET not allowed: cannot check
	case err != nil:
		return reachError(addr, err)
	}
	policy, ok := got["maxmemory-policy"]
	if !ok || evictionSafe(policy) {
		return nil
	}
	return fmt.Errorf("redis: %s has maxmemory-policy %s, which lets Redis evict sentinel's session records and "+
		"indexes under memory pressure, so a revoke could find nothing to revoke while the session keeps serving; "+
		"set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf so a restart "+
		"keeps it); a volatile-* policy is accepted too, since sentinel's keys carry no TTL: %w",
		addr, policy, ports.ErrInvalidArgument)
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
		client: client,
		clock:  clock,
		tag:    tag,
		events: tag + "events",
		gets:   newGets(client),
	}
}

// Close closes the client if Open made it. Later calls fail with ports.ErrUnavailable.
func (s *Store) Close() error {
	if s.closed.Swap(true) || !s.owned {
		return nil
	}
	return s.client.Close()
}

// recordKey names a session's key.
func (s *Store) recordKey(id string) string { return sessionKind.key(s, id) }

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
