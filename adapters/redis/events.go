package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/ports"
)

// EventKind says which record type an Event is about.
type EventKind string

// The record types that publish events.
const (
	EventSession    EventKind = "session"
	EventRequest    EventKind = "request"
	EventBreakGlass EventKind = "breakglass"
)

// Event says that a record's stored status changed: a session revoked or
// expired, a request created, approved, denied, cancelled or expired, a
// break-glass event invoked, closed or expired.
//
// The write scripts PUBLISH it on EventsChannel inside the same script as
// the write, so a subscriber never hears of a change that did not happen.
// Pub/sub is fire-and-forget: a subscriber that is not connected misses
// events, so a server must still read the record (it does, on every
// request); events only let it drop a cached answer sooner.
//
// The payload is "<kind> <status> <id>", e.g. "request approved 0123...cdef",
// except for sessions, whose payload stays "<status> <id>" (as before there
// were other kinds), e.g. "revoked 0123...cdef".
type Event struct {
	Kind EventKind
	// Status is the new stored status, one of Kind's (a ports.SessionStatus,
	// ports.RequestStatus or ports.BreakGlassStatus).
	Status string
	ID     string
}

// eventLayouts are the record types by event kind.
var eventLayouts = map[EventKind]*layout{
	EventSession:    sessionKind.layout,
	EventRequest:    requestKind.layout,
	EventBreakGlass: breakGlassKind.layout,
}

// String is the payload form of e, as the scripts publish it.
func (e Event) String() string {
	if l, ok := eventLayouts[e.Kind]; ok {
		return l.eventPrefix + e.Status + " " + e.ID
	}
	return string(e.Kind) + " " + e.Status + " " + e.ID
}

// ParseEvent reads a payload from EventsChannel. Errors wrap ports.ErrInvalidArgument.
func ParseEvent(payload string) (Event, error) {
	first, rest, ok := strings.Cut(payload, " ")
	e := Event{Kind: EventSession, Status: first, ID: rest}
	if k := EventKind(first); k != EventSession && eventLayouts[k] != nil {
		e.Kind = k
		e.Status, e.ID, ok = strings.Cut(rest, " ")
	}
	if !ok || e.ID == "" || !slices.Contains(eventLayouts[e.Kind].statuses, e.Status) {
		return Event{}, fmt.Errorf("redis: malformed store event %q: %w", payload, ports.ErrInvalidArgument)
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
