package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"

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
	Trips int64 // bbolt: none; Redis: commands and pipelines sent; DynamoDB: HTTP requests
	Reads int64 // bbolt: records read; Redis: commands; DynamoDB: items read (ScannedCount, GetItem hits)
}

func (a readCount) minus(b readCount) readCount {
	return readCount{Trips: a.Trips - b.Trips, Reads: a.Reads - b.Reads}
}

// countedStore is a store opened for the scale bench with counters on the
// way to its backend: a bbolt read counter, a go-redis hook, or an HTTP
// transport that reads DynamoDB's replies. The counting sits outside the
// adapters' code paths (bbolt's is one nil check per record read).
type countedStore struct {
	ports.Stores
	kind    storeurl.Kind
	where   string // redacted URL, with the bench's own table or prefix
	count   func() readCount
	cleanup func(ctx context.Context) error // drops what the bench created; nil keeps it
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
		s, err := bolt.Open(spec.Path, clock, bolt.Options{NoSync: true, ReadCounter: &reads})
		if err != nil {
			return nil, err
		}
		return &countedStore{Stores: s, kind: spec.Kind, where: spec.Redacted(),
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
		Stores: redisstore.New(client, prefix, clock), kind: spec.Kind,
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

// dynamoCounter counts HTTP requests to DynamoDB and the items each reply
// says were read.
type dynamoCounter struct {
	base         http.RoundTripper
	trips, items atomic.Int64
}

func (c *dynamoCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.trips.Add(1)
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	op := r.Header.Get("X-Amz-Target")
	if !strings.HasSuffix(op, ".Query") && !strings.HasSuffix(op, ".Scan") && !strings.HasSuffix(op, ".GetItem") {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	plain := body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			plain, _ = io.ReadAll(zr)
		}
	}
	var reply struct {
		ScannedCount int64
		Item         json.RawMessage
	}
	if json.Unmarshal(plain, &reply) == nil {
		c.items.Add(reply.ScannedCount)
		if len(reply.Item) > 0 {
			c.items.Add(1)
		}
	}
	return resp, nil
}

func openCountedDynamo(ctx context.Context, spec storeurl.Spec, own bool, clock ports.Clock) (*countedStore, error) {
	table := spec.Table
	if own {
		table = spec.Table + "-scale-" + randomSuffix()
	}
	c := &dynamoCounter{base: http.DefaultTransport.(*http.Transport).Clone()}
	opts := dynamo.Options{Table: table, Region: spec.Region, Endpoint: spec.Endpoint, Profile: spec.Profile,
		HTTPClient: &http.Client{Transport: c}}
	s, err := dynamo.Open(ctx, opts, clock)
	if err != nil {
		return nil, err
	}
	if err := s.Init(ctx); err != nil {
		return nil, err
	}
	cs := &countedStore{
		Stores: s, kind: spec.Kind, where: spec.Redacted() + " table " + table,
		count: func() readCount { return readCount{Trips: c.trips.Load(), Reads: c.items.Load()} },
	}
	if own {
		cs.cleanup = s.DropTables
	}
	return cs, nil
}
