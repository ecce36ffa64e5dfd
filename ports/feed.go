package ports

import (
	"context"
	"errors"
)

// FeedSignal is what a SessionFeed tells a running server.
type FeedSignal int

// The feed signals.
const (
	// FeedChanged: the session may have changed; re-read it, then Ack.
	FeedChanged FeedSignal = iota + 1
	// FeedLost: changes may have been missed (a disconnect); read the store
	// on every request until FeedResumed.
	FeedLost
	// FeedResumed: the feed is whole again; re-read once, then trust memory.
	FeedResumed
)

// ErrNoListener: no live server follows the session, so nobody can acknowledge.
var ErrNoListener = errors.New("no server is following the session")

// SessionFeed lets a running server keep its session in memory and still
// refuse the very next request after a revoke: the revoker announces the
// change and waits for the server's Ack.
type SessionFeed interface {
	// Follow starts following s (its ID and ServerInstanceID). Signals arrive
	// on the channel until ctx ends; the channel is then closed. The first
	// signal is FeedResumed once the feed is listening.
	Follow(ctx context.Context, s Session) (<-chan FeedSignal, error)
	// Ack tells whoever announced a change of session id that this server
	// has read version of it.
	Ack(ctx context.Context, id string, version int64) error
}

// ChangeAnnouncer is the revoker's side of a SessionFeed.
type ChangeAnnouncer interface {
	// Announce tells the live server following s that s changed, and waits
	// until it acknowledges a version >= s.Version or ctx ends. It returns
	// an error wrapping ErrNoListener when no server follows s.
	Announce(ctx context.Context, s Session) error
}

// ReadAcknowledger is a store without a change feed (DynamoDB) on which a
// polling server confirms through the session record itself: it writes the
// version of its session it has read ended, and the store's ChangeAnnouncer
// waits for that. A store that implements it says "confirmed" with the same
// meaning as a feed's Ack.
type ReadAcknowledger interface {
	// AckRead records on session id that its server has read version of it
	// and refuses from now on. It changes no other field and never Version,
	// so an acknowledgement is never taken for a change and can never undo
	// a revoke; a version at or below the one already recorded changes
	// nothing. Errors: ErrNotFound when the record is gone; ErrCorrupt when
	// the stored record is not a session.
	AckRead(ctx context.Context, id string, version int64) error
}
