package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/ports"
)

// reply is a server error reply as go-redis hands it over (redis.Error).
type reply string

func (r reply) Error() string { return string(r) }
func (reply) RedisError()     {}

func TestMapError(t *testing.T) {
	const what = `update session "0123abcd"`
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	cases := []struct {
		name string
		in   error
		want error
		// keepsOriginal: the input stays reachable with errors.Is.
		keepsOriginal bool
		mention       string
	}{
		{"missing key", redis.Nil, ports.ErrNotFound, false, what},
		{"script: not found", reply("SENTINEL_NOT_FOUND no record"), ports.ErrNotFound, false, "no record"},
		{"script: id taken", reply("SENTINEL_EXISTS id taken"), ports.ErrAlreadyExists, false, "id taken"},
		{"script: version differs", reply("SENTINEL_CONFLICT stored version 3"), ports.ErrConflict, false, "stored version 3"},
		{"script: corrupt", reply("SENTINEL_CORRUPT field status is missing"), ports.ErrCorrupt, false, "field status is missing"},
		{"wrong Redis type", reply("WRONGTYPE Operation against a key holding the wrong kind of value"), ports.ErrCorrupt, true, "WRONGTYPE"},
		{"counter overflow", reply("ERR increment or decrement would overflow"), ports.ErrInvalidArgument, true, "overflow"},
		{"loading", reply("LOADING Redis is loading the dataset in memory"), ports.ErrUnavailable, true, "LOADING"},
		{"read-only replica", reply("READONLY You can't write against a read only replica."), ports.ErrUnavailable, true, "READONLY"},
		{"auth required", reply("NOAUTH Authentication required."), ports.ErrUnavailable, true, "NOAUTH"},
		{"connection refused", refused, ports.ErrUnavailable, true, "connection refused"},
		{"i/o timeout", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, ports.ErrUnavailable, true, "timeout"},
		{"pool timeout", redis.ErrPoolTimeout, ports.ErrUnavailable, true, "pool timeout"},
		{"client closed", redis.ErrClosed, ports.ErrUnavailable, true, "closed"},
		{"connection dropped", io.EOF, ports.ErrUnavailable, true, "EOF"},
		{"context deadline", context.DeadlineExceeded, ports.ErrUnavailable, true, "deadline"},
		{"caller cancelled", context.Canceled, context.Canceled, true, "canceled"},
		{"already a ports error", fmt.Errorf("stored session %q: bad: %w", "0123abcd", ports.ErrCorrupt), ports.ErrCorrupt, true, "bad"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mapError(what, tc.in)
			if !errors.Is(got, tc.want) {
				t.Errorf("mapError(%v) = %v, want one wrapping %v", tc.in, got, tc.want)
			}
			if tc.keepsOriginal && !errors.Is(got, tc.in) {
				t.Errorf("mapError(%v) = %v lost the original error", tc.in, got)
			}
			msg := got.Error()
			if !strings.HasPrefix(msg, "redis: "+what+": ") || !strings.Contains(msg, tc.mention) {
				t.Errorf("mapError(%v) = %q, want it to start with the context and mention %q", tc.in, msg, tc.mention)
			}
			if strings.Contains(msg, "SENTINEL_") {
				t.Errorf("mapError(%v) = %q shows an internal script code", tc.in, msg)
			}
		})
	}
	if mapError(what, nil) != nil {
		t.Error("mapError(nil) is not nil")
	}
	if errors.Is(mapError(what, context.Canceled), ports.ErrUnavailable) {
		t.Error("a cancelled caller is reported as an unavailable store")
	}
}

// TestMapErrorOfRealReplies maps errors the real server and network produce,
// so a change in go-redis's error types cannot slip past the table above.
func TestMapErrorOfRealReplies(t *testing.T) {
	url := testenv.Redis(t)
	prefix := newPrefix(t, url)
	c := rawClient(t, url)
	defer c.Close()
	ctx := t.Context()
	str, counter := "{"+prefix+"}:a-string", "{"+prefix+"}:a-counter"
	if err := c.Set(ctx, str, "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, counter, math.MaxInt64, 0).Err(); err != nil {
		t.Fatal(err)
	}
	closedPort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	dead := redis.NewClient(&redis.Options{Addr: closedPort, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	defer dead.Close()

	cases := []struct {
		name string
		err  error
		want error
	}{
		{"GET of a missing key", c.Get(ctx, "{"+prefix+"}:missing").Err(), ports.ErrNotFound},
		{"HGETALL of a string", c.HGetAll(ctx, str).Err(), ports.ErrCorrupt},
		{"INCR past int64", c.Incr(ctx, counter).Err(), ports.ErrInvalidArgument},
		{"script refusing with our code", c.Eval(ctx, "return redis.error_reply('"+codeConflict+" stored version 9')", nil).Err(), ports.ErrConflict},
		{"a closed port", dead.Ping(ctx).Err(), ports.ErrUnavailable},
	}
	for _, tc := range cases {
		if tc.err == nil {
			t.Errorf("%s: no error from the server", tc.name)
			continue
		}
		if got := mapError("op", tc.err); !errors.Is(got, tc.want) {
			t.Errorf("%s: mapError(%v) = %v, want one wrapping %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestHungServerFailsFast: a server that accepts but never answers costs
// one bounded wait, then ErrUnavailable; never a hang.
func TestHungServerFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, conn); conn.Close() }() // read, never reply
		}
	}()
	opts := Options{Addr: ln.Addr().String(), DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond}
	began := time.Now()
	s, err := Open(t.Context(), opts, ports.NewFakeClock(testStart))
	took := time.Since(began)
	if err == nil {
		s.Close()
		t.Fatal("Open of a server that never answers succeeded")
	}
	if !errors.Is(err, ports.ErrUnavailable) || !strings.Contains(err.Error(), opts.Addr) {
		t.Errorf("Open error %v: want ErrUnavailable naming %s", err, opts.Addr)
	}
	if limit := opts.DialTimeout + opts.ReadTimeout + time.Second; took > limit {
		t.Errorf("Open of a hung server took %s, want under %s", took, limit)
	}
}
