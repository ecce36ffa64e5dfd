package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/bolt"
	"github.com/sentinel-gw/sentinel/adapters/dynamo"
	redisstore "github.com/sentinel-gw/sentinel/adapters/redis"
	"github.com/sentinel-gw/sentinel/internal/storeurl"
	"github.com/sentinel-gw/sentinel/ports"
)

// openStore opens the store a URL names, for a command that reads or
// changes what is already recorded: a bolt file that is not there is an
// error wrapping ports.ErrNotFound ("no store at PATH"), and neither the file
// nor its folder is created. Commands reach it through runStore, only when
// they need a store, so --help and version never touch one. A bad URL is a
// usage error.
func openStore(ctx context.Context, raw string, clock ports.Clock) (ports.Stores, error) {
	return dialStore(ctx, raw, clock, false)
}

// createStore is openStore for the commands that record something new
// (store init, exec --server, request, breakglass): a missing bolt file is
// created, with its folder.
func createStore(ctx context.Context, raw string, clock ports.Clock) (ports.Stores, error) {
	return dialStore(ctx, raw, clock, true)
}

// runStore is the store of one command run, bound into every command's
// Run by run. It opens on first use, with open or create (openStore's or
// createStore's rules), and every later use gets the same store; run closes
// it once, after the command's Run returns. A command that never asks for it
// never opens one, so --help and version never touch a store.
type runStore struct {
	url   string
	clock ports.Clock
	// team: the run has --broker, and a command in team mode never opens a
	// store (users have no access to it): the broker does.
	team bool

	mu    sync.Mutex
	store ports.Stores
}

// open is openStore for this run: a missing bolt file is "no store at PATH".
func (r *runStore) open(ctx context.Context) (ports.Stores, error) {
	return r.get(ctx, openStore)
}

// create is createStore for this run: a missing bolt file is created.
func (r *runStore) create(ctx context.Context) (ports.Stores, error) {
	return r.get(ctx, createStore)
}

// get returns the store opened earlier in the run, or dials one with dial.
// A failed dial is not kept: a later create may still make the file.
func (r *runStore) get(ctx context.Context, dial func(context.Context, string, ports.Clock) (ports.Stores, error)) (ports.Stores, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.team {
		return nil, usageError{"this command works on the store directly, which in team mode only the broker reaches: run it on the broker's host without --broker"}
	}
	if r.store != nil {
		return r.store, nil
	}
	store, err := dial(ctx, r.url, r.clock)
	if err != nil {
		return nil, err
	}
	r.store = store
	return store, nil
}

// close closes the store if the run opened one.
func (r *runStore) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.store != nil {
		_ = r.store.Close()
		r.store = nil
	}
}

func dialStore(ctx context.Context, raw string, clock ports.Clock, create bool) (ports.Stores, error) {
	spec, err := parseStoreURL(raw)
	if err != nil {
		return nil, err
	}
	switch spec.Kind {
	case storeurl.Bolt:
		timeout := spec.LockTimeout
		if timeout == 0 {
			timeout = 2 * time.Second
		}
		return bolt.Open(spec.Path, clock, bolt.Options{LockTimeout: timeout, MustExist: !create})
	case storeurl.Redis:
		tlsConfig, err := spec.RedisTLS()
		if err != nil {
			return nil, badArgument{fmt.Errorf("--store: %w", err)}
		}
		redisstore.QuietLibraryLogs()
		return redisstore.Open(ctx, redisstore.Options{
			Addr: spec.Addr, Username: spec.Username, Password: spec.Password, DB: spec.DB,
			TLS: spec.TLS, TLSConfig: tlsConfig, Cluster: spec.Cluster, Prefix: spec.Prefix,
		}, clock)
	case storeurl.DynamoDB:
		bundle, err := spec.DynamoCABundle()
		if err != nil {
			return nil, badArgument{fmt.Errorf("--store: %w", err)}
		}
		return dynamo.Open(ctx, dynamo.Options{Table: spec.Table, Region: spec.Region, Endpoint: spec.Endpoint, Profile: spec.Profile, CABundle: bundle}, clock)
	}
	return nil, fmt.Errorf("store %s: unknown backend %q", spec.Redacted(), spec.Kind)
}

// parseStoreURL parses a store URL; a bad one is a usage error.
func parseStoreURL(raw string) (storeurl.Spec, error) {
	spec, err := storeurl.Parse(raw)
	if err != nil {
		return spec, badArgument{fmt.Errorf("--store: %w", err)}
	}
	return spec, nil
}

// withNoTrackingHint adds, to a store that cannot be reached when exec
// --server starts, the way to run without it and what that costs.
func withNoTrackingHint(err error) error {
	if !errors.Is(err, ports.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w\n(or run without the store: add --no-tracking; the session is then neither listed nor revocable, so server-revoke cannot stop it)", err)
}

// StoreCmd groups store administration.
type StoreCmd struct {
	Init  StoreInitCmd  `cmd:"" help:"Create what the store needs (the DynamoDB table, indexes and TTL; the bbolt file). Idempotent."`
	Stats StoreStatsCmd `cmd:"" help:"Count the stored sessions, requests and break-glass events by status, and show the oldest of each."`
	Sweep StoreSweepCmd `cmd:"" help:"Delete the records that ended longer ago than the retention (default a week)."`
}

// StoreInitCmd prepares a store.
type StoreInitCmd struct{}

// Help shows examples.
func (StoreInitCmd) Help() string {
	return `Examples:
  sentinel store init --store "dynamodb://sentinel-sessions?region=eu-west-1"
  sentinel store init --store bolt:///var/lib/sentinel/sentinel.db`
}

// initializer is a store that has something to create.
type initializer interface {
	Init(ctx context.Context) error
}

// Run creates the store's schema; running it again changes nothing.
func (StoreInitCmd) Run(g *Globals, env *Env, stores *runStore) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	store, err := stores.create(ctx)
	if err != nil {
		return err
	}
	if i, ok := store.(initializer); ok {
		if err := i.Init(ctx); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(env.Stdout, "store %s is ready\n", redactedStore(g.Store))
	return err
}

// redactedStore is a store URL that is safe to print.
func redactedStore(raw string) string {
	if spec, err := storeurl.Parse(raw); err == nil {
		return spec.Redacted()
	}
	return "the store"
}
