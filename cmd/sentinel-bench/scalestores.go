package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/adapters/bolt"
	"github.com/sentinel-gw/sentinel/adapters/dynamo"
	redisstore "github.com/sentinel-gw/sentinel/adapters/redis"
	"github.com/sentinel-gw/sentinel/internal/storeurl"
	"github.com/sentinel-gw/sentinel/ports"
)

// readCount is what a store was asked for: round trips to its server
// (zero for bbolt, which is in-process) and the records it read.
type readCount struct {
	Trips int64 // bbolt: none; Redis: commands and pipelines sent; DynamoDB: API calls
	Reads int64 // bbolt: records read; Redis: commands; DynamoDB: items read (ScannedCount, GetItem hits)
}

func (a readCount) minus(b readCount) readCount {
	return readCount{Trips: a.Trips - b.Trips, Reads: a.Reads - b.Reads}
}

// countedStore is a store opened for the scale bench with counters on the
// way to its backend: a bbolt read counter, a go-redis hook, or a
// middleware on the DynamoDB client's stack. The counting sits outside the
// adapters' code paths (bbolt's is one nil check per record read).
type countedStore struct {
	ports.Stores
	kind    storeurl.Kind
	where   string // redacted URL, with the bench's own table or prefix
	count   func() readCount
	cleanup func(ctx context.Context) error // drops what the bench created; nil keeps it
	writers int                             // concurrent writers while seeding
}

// openCounted opens the store raw names. With own set it works in a fresh
// namespace of its own (a new Redis key prefix, new DynamoDB tables, the
// bbolt file given or one in dir) and cleanup removes it; otherwise it opens
// the namespace the URL names and keeps it (seed mode).
func openCounted(ctx context.Context, raw, dir string, own bool, clock ports.Clock) (*countedStore, error) {
	if raw == "" {
		raw = "bolt://" + filepath.Join(dir, "scale.db")
	}
	spec, err := storeurl.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-store: %w", err)
	}
	switch spec.Kind {
	case storeurl.Bolt:
		var reads atomic.Int64
		// One writer: the file lock admits one at a time anyway, and a
		// crowd of them would only time out waiting on a loaded machine.
		s, err := bolt.Open(spec.Path, clock, bolt.Options{NoSync: true, ReadCounter: &reads, LockTimeout: time.Minute})
		if err != nil {
			return nil, err
		}
		return &countedStore{Stores: s, kind: spec.Kind, where: spec.Redacted(), writers: 1,
			count: func() readCount { return readCount{Reads: reads.Load()} }}, nil
	case storeurl.Redis:
		return openCountedRedis(ctx, spec, own, clock)
	case storeurl.DynamoDB:
		return openCountedDynamo(ctx, spec, own, clock)
	}
	return nil, fmt.Errorf("-store: unknown backend %q", spec.Kind)
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redisCounter counts what the client sends: each command or pipeline is
// one round trip; Reads counts the commands.
type redisCounter struct{ trips, cmds atomic.Int64 }

func (h *redisCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *redisCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.trips.Add(1)
		h.cmds.Add(1)
		return next(ctx, cmd)
	}
}

func (h *redisCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.trips.Add(1)
		h.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func openCountedRedis(ctx context.Context, spec storeurl.Spec, own bool, clock ports.Clock) (*countedStore, error) {
	if spec.Cluster {
		return nil, errors.New("-store: the scale bench measures a single Redis server, not a cluster")
	}
	redisstore.QuietLibraryLogs()
	client := redis.NewClient(&redis.Options{Addr: spec.Addr, Username: spec.Username, Password: spec.Password, DB: spec.DB})
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis %s: %w", spec.Redacted(), err)
	}
	prefix := spec.Prefix
	if own {
		prefix = "sentinel-bench-scale-" + randomSuffix()
	}
	h := &redisCounter{}
	client.AddHook(h)
	cs := &countedStore{
		Stores: redisstore.New(client, prefix, clock), kind: spec.Kind, writers: scaleWorkers,
		where: spec.Redacted() + " prefix " + prefix,
		count: func() readCount { return readCount{Trips: h.trips.Load(), Reads: h.cmds.Load()} },
	}
	if own {
		// Only the keys of the bench's own prefix, never a FLUSHDB.
		cs.cleanup = func(ctx context.Context) error {
			defer client.Close() //nolint:errcheck // closing after the cleanup
			iter := client.Scan(ctx, 0, "{"+prefix+"}:*", 1000).Iterator()
			var batch []string
			for iter.Next(ctx) {
				if batch = append(batch, iter.Val()); len(batch) == 1000 {
					if err := client.Unlink(ctx, batch...).Err(); err != nil {
						return err
					}
					batch = batch[:0]
				}
			}
			if len(batch) > 0 {
				if err := client.Unlink(ctx, batch...).Err(); err != nil {
					return err
				}
			}
			return iter.Err()
		}
	}
	return cs, nil
}

// dynamoCounter counts the API calls made to DynamoDB and the items each
// reply says were read, from a middleware on the client's stack.
type dynamoCounter struct{ calls, items atomic.Int64 }

func (c *dynamoCounter) add(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("sentinel-bench-count",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			c.calls.Add(1)
			switch r := out.Result.(type) {
			case *dynamodb.QueryOutput:
				c.items.Add(int64(r.ScannedCount))
			case *dynamodb.ScanOutput:
				c.items.Add(int64(r.ScannedCount))
			case *dynamodb.GetItemOutput:
				if r.Item != nil {
					c.items.Add(1)
				}
			case *dynamodb.BatchGetItemOutput: // gathered record reads (adapters/dynamo)
				for _, items := range r.Responses {
					c.items.Add(int64(len(items)))
				}
			}
			return out, md, err
		}), middleware.After)
}

func openCountedDynamo(ctx context.Context, spec storeurl.Spec, own bool, clock ports.Clock) (*countedStore, error) {
	table := spec.Table
	if own {
		table = spec.Table + "-scale-" + randomSuffix()
	}
	var load []func(*config.LoadOptions) error
	if spec.Region != "" {
		load = append(load, config.WithRegion(spec.Region))
	}
	if spec.Profile != "" {
		load = append(load, config.WithSharedConfigProfile(spec.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: load AWS configuration: %w", err)
	}
	c := &dynamoCounter{}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if spec.Endpoint != "" {
			o.BaseEndpoint = aws.String(spec.Endpoint)
		}
		o.APIOptions = append(o.APIOptions, c.add)
	})
	s := dynamo.New(client, table, clock)
	if err := s.Init(ctx); err != nil {
		return nil, err
	}
	cs := &countedStore{
		Stores: s, kind: spec.Kind, where: spec.Redacted() + " table " + table, writers: scaleWorkers,
		count: func() readCount { return readCount{Trips: c.calls.Load(), Reads: c.items.Load()} },
	}
	if own {
		cs.cleanup = s.DropTables
	}
	return cs, nil
}
