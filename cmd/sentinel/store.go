package main

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/bolt"
	"github.com/sentinel-gw/sentinel/adapters/dynamo"
	redisstore "github.com/sentinel-gw/sentinel/adapters/redis"
	"github.com/sentinel-gw/sentinel/internal/storeurl"
	"github.com/sentinel-gw/sentinel/ports"
)

// openStore opens the adapter a store URL names. Commands call it only when
// they need a store, so --help and version never touch one.
func openStore(ctx context.Context, raw string, clock ports.Clock) (ports.Stores, error) {
	spec, err := storeurl.Parse(raw)
	if err != nil {
		return nil, err
	}
	switch spec.Kind {
	case storeurl.Bolt:
		timeout := spec.LockTimeout
		if timeout == 0 {
			timeout = 2 * time.Second
		}
		return bolt.Open(spec.Path, clock, bolt.Options{LockTimeout: timeout})
	case storeurl.Redis:
		redisstore.QuietLibraryLogs()
		return redisstore.Open(ctx, redisstore.Options{
			Addr: spec.Addr, Username: spec.Username, Password: spec.Password, DB: spec.DB,
			TLS: spec.TLS, Cluster: spec.Cluster, Prefix: spec.Prefix,
		}, clock)
	case storeurl.DynamoDB:
		return dynamo.Open(ctx, dynamo.Options{Table: spec.Table, Region: spec.Region, Endpoint: spec.Endpoint, Profile: spec.Profile}, clock)
	}
	return nil, fmt.Errorf("store %s: unknown backend %q", spec.Redacted(), spec.Kind)
}

// StoreCmd groups store administration.
type StoreCmd struct {
	Init StoreInitCmd `cmd:"" help:"Create what the store needs (the DynamoDB table, indexes and TTL; the bbolt file). Idempotent."`
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
func (StoreInitCmd) Run(g *Globals, env *Env) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	store, err := openStore(ctx, g.Store, env.Clock)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
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
