package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/ports"
)

// The session feed on Redis is pub/sub. A running server subscribes to the
// store's events channel (every status change is published there by the
// write scripts) and to its own control channel "{P}:feed:<instance>". The
// revoker subscribes to "{P}:ack:<session>", publishes "changed <id>
// <version>" on the server's control channel (no subscriber: no live
// server), and waits for "ack <version>". A subscription that fails, or
// does not answer a PING within feedQuiet (Redis may have dropped it while
// the socket looks open: PUBLISH then finds no subscriber), is reported as
// FeedLost: the server then reads the store on every request until it has
// subscribed again on a new connection and the view has re-read.

var (
	_ ports.SessionFeed     = (*Store)(nil)
	_ ports.ChangeAnnouncer = (*Store)(nil)
)

const (
	// feedPing: the subscription shows it is alive at least once per
	// resync interval of the server's view (250ms).
	feedPing = 200 * time.Millisecond
	// feedQuiet: a subscription that answered nothing, not even a PING,
	// for this long cannot show it is alive (Redis may have dropped it
	// while the socket looks open): the feed is lost, and followed again
	// on a new connection.
	feedQuiet = 3 * feedPing
	// feedRetry spaces attempts to subscribe again.
	feedRetry = 200 * time.Millisecond
	// feedConfirm bounds the wait for the subscription confirmations.
	feedConfirm = 3 * time.Second
)

func (s *Store) feedChannel(instanceID string) string { return s.tag + "feed:" + instanceID }
func (s *Store) ackChannel(sessionID string) string   { return s.tag + "ack:" + sessionID }

// Follow subscribes for changes of sess until ctx ends.
func (s *Store) Follow(ctx context.Context, sess ports.Session) (<-chan ports.FeedSignal, error) {
	if sess.ID == "" || sess.ServerInstanceID == "" {
		return nil, fmt.Errorf("redis: follow session: id and server instance are required: %w", ports.ErrInvalidArgument)
	}
	channels := []string{s.events, s.feedChannel(sess.ServerInstanceID)}
	pubsub, err := s.subscribe(ctx, channels)
	if err != nil {
		return nil, mapError(fmt.Sprintf("follow session %s: subscribe", sess.ID), err)
	}
	signals := make(chan ports.FeedSignal, 2)
	signals <- ports.FeedResumed
	go s.followLoop(ctx, pubsub, sess.ID, channels, signals)
	return signals, nil
}

// subscribe subscribes to channels on a connection of its own and waits for
// every confirmation, so a FeedResumed after it is true.
func (s *Store) subscribe(ctx context.Context, channels []string) (*redis.PubSub, error) {
	pubsub := s.client.Subscribe(ctx, channels...)
	for range channels {
		if _, err := pubsub.ReceiveTimeout(ctx, feedConfirm); err != nil {
			_ = pubsub.Close()
			return nil, err
		}
	}
	return pubsub, nil
}

// followLoop relays the subscription's news until ctx ends. When the
// subscription fails, or cannot show it is alive within feedQuiet, it
// reports FeedLost, subscribes again on a new connection, and reports
// FeedResumed once that one is confirmed.
func (s *Store) followLoop(ctx context.Context, pubsub *redis.PubSub, id string, channels []string, signals chan ports.FeedSignal) {
	defer close(signals)
	send := func(sig ports.FeedSignal) {
		if sig == ports.FeedChanged {
			select {
			case signals <- sig:
			default: // a queued signal already makes the view re-read
			}
			return
		}
		select {
		case signals <- sig:
		case <-ctx.Done():
		}
	}
	for {
		relay(ctx, pubsub, id, send)
		_ = pubsub.Close()
		if ctx.Err() != nil {
			return
		}
		send(ports.FeedLost)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(feedRetry):
			}
			p, err := s.subscribe(ctx, channels)
			if err == nil {
				pubsub = p
				break
			}
		}
		send(ports.FeedResumed)
	}
}

// relay passes on the changes of session id that pubsub receives, pinging
// it every feedPing, and returns when it fails or stays quiet for feedQuiet
// (or ctx ends).
func relay(ctx context.Context, pubsub *redis.PubSub, id string, send func(ports.FeedSignal)) {
	pingCtx, stopPing := context.WithCancel(ctx)
	defer stopPing()
	go func() {
		t := time.NewTicker(feedPing)
		defer t.Stop()
		for {
			select {
			case <-pingCtx.Done():
				return
			case <-t.C:
				_ = pubsub.Ping(pingCtx) // an error surfaces in Receive
			}
		}
	}()
	for {
		msg, err := pubsub.ReceiveTimeout(ctx, feedQuiet)
		if err != nil {
			return
		}
		if m, ok := msg.(*redis.Message); ok && aboutSession(m.Payload, id) {
			send(ports.FeedChanged)
		}
	}
}

// aboutSession reports whether an events or control payload concerns id.
func aboutSession(payload, id string) bool {
	if strings.HasPrefix(payload, "changed ") {
		fields := strings.Fields(payload)
		return len(fields) == 3 && fields[1] == id
	}
	e, err := ParseEvent(payload)
	return err == nil && e.Kind == EventSession && e.ID == id
}

// Ack publishes that this server has read version of session id.
func (s *Store) Ack(ctx context.Context, id string, version int64) error {
	if err := s.client.Publish(ctx, s.ackChannel(id), "ack "+strconv.FormatInt(version, 10)).Err(); err != nil {
		return mapError(fmt.Sprintf("ack session %s", id), err)
	}
	return nil
}

// Announce asks the server following sess to re-read it and waits for its
// acknowledgement of sess.Version, until ctx ends.
func (s *Store) Announce(ctx context.Context, sess ports.Session) error {
	sub := s.client.Subscribe(ctx, s.ackChannel(sess.ID))
	defer func() { _ = sub.Close() }()
	what := fmt.Sprintf("announce session %s", sess.ID)
	if _, err := sub.Receive(ctx); err != nil { // the subscription is live before we ask
		return mapError(what, err)
	}
	n, err := s.publishCounted(ctx, s.feedChannel(sess.ServerInstanceID), "changed "+sess.ID+" "+strconv.FormatInt(sess.Version, 10))
	if err != nil {
		return mapError(what, err)
	}
	if n == 0 {
		return fmt.Errorf("redis: announce session %s: %w", sess.ID, ports.ErrNoListener)
	}
	for {
		msg, err := sub.ReceiveMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("redis: announce session %s: no acknowledgement in time: %w", sess.ID, context.DeadlineExceeded)
			}
			return mapError(what, err)
		}
		fields := strings.Fields(msg.Payload)
		if len(fields) != 2 || fields[0] != "ack" {
			continue
		}
		if v, err := strconv.ParseInt(fields[1], 10, 64); err == nil && v >= sess.Version {
			return nil
		}
	}
}

// publishCounted publishes payload on channel and returns how many
// subscribers got it. On a Redis Cluster a PUBLISH reaches every node but
// counts only the subscribers of the node that took it, and the client
// sends one to any node; so it goes to the master of the channel's slot,
// where Follow subscribes (its channels share the store's hash tag).
func (s *Store) publishCounted(ctx context.Context, channel, payload string) (int64, error) {
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, channel)
		if err != nil {
			return 0, err
		}
		return node.Publish(ctx, channel, payload).Result()
	}
	return s.client.Publish(ctx, channel, payload).Result()
}
