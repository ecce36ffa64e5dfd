package redisstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/ports"
)

// Event says that a session's stored status changed: a revoke or an expiry
// written through UpdateSession or ExpireLapsedSessions.
//
// The write scripts PUBLISH it on EventsChannel inside the same script as
// the write, so a subscriber never hears of a change that did not happen.
// Pub/sub is fire-and-forget: a subscriber that is not connected misses
// events, so a server must still read the record (it does, on every
// request); events only let it drop a cached answer sooner. The payload is
// "<status> <session id>", e.g. "revoked 0123...cdef".
type Event struct {
	Status    ports.SessionStatus
	SessionID string
}

// String is the payload form of e.
func (e Event) String() string { return string(e.Status) + " " + e.SessionID }

// ParseEvent reads a payload from EventsChannel. Errors wrap ports.ErrInvalidArgument.
func ParseEvent(payload string) (Event, error) {
	status, id, ok := strings.Cut(payload, " ")
	e := Event{Status: ports.SessionStatus(status), SessionID: id}
	if !ok || id == "" || !e.Status.Valid() {
		return Event{}, fmt.Errorf("redis: malformed session event %q: %w", payload, ports.ErrInvalidArgument)
	}
	return e, nil
}

// EventsChannel is the pub/sub channel this store publishes status changes
// on: "{<prefix>}:events". The scripts use PUBLISH, which Redis Cluster
// relays to every node, so a subscriber on any node hears it.
func (s *Store) EventsChannel() string { return s.events }

// QuietLibraryLogs stops go-redis from printing its own pool messages to
// stderr; this adapter's errors already say what failed and what to do.
func QuietLibraryLogs() { redis.SetLogger(quietLogger{}) }

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
