package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// announcerStore is a store whose announcement ends with err.
type announcerStore struct {
	ports.SessionStore
	err error
}

func (a announcerStore) Announce(ctx context.Context, _ ports.Session) error {
	if errors.Is(a.err, context.DeadlineExceeded) {
		<-ctx.Done()
	}
	return a.err
}

// Without a confirmation, server-revoke never returns before the bound
// within which any live server re-reads the store, taken from the poll the
// server recorded; with one, it returns at once.
func TestAnnounceWaitsOutTheRereadBoundUnconfirmed(t *testing.T) {
	t.Parallel()
	s := ports.Session{ID: "0f8e3c2a9b7d4f60a1c2d3e4f5061728", Version: 2, RevocationPoll: 400 * time.Millisecond}
	bound := session.RereadBound(s)
	tests := []struct {
		name     string
		store    ports.SessionStore
		timeout  time.Duration
		says     string
		waitsOut bool
	}{
		{"confirmed", announcerStore{err: nil}, 2 * time.Second, "confirmed it refuses from now on", false},
		{"no listener", announcerStore{err: fmt.Errorf("feed: %w", ports.ErrNoListener)}, 2 * time.Second, "no running server heard the change feed; waited " + bound.String(), true},
		{"not confirmed within a short --ack-timeout", announcerStore{err: context.DeadlineExceeded}, 50 * time.Millisecond, "did not confirm within 50ms", true},
		{"a store that cannot confirm", memory.New(ports.SystemClock{}), 2 * time.Second, "this store cannot confirm; waited " + bound.String(), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			began := time.Now()
			announce(context.Background(), &Env{Stderr: &stderr}, tc.store, s, tc.timeout)
			took := time.Since(began)
			if !strings.Contains(stderr.String(), tc.says) {
				t.Errorf("said %q, want %q", stderr.String(), tc.says)
			}
			if tc.waitsOut && took < bound {
				t.Errorf("returned after %s, before the %s re-read bound", took, bound)
			}
			if !tc.waitsOut && took >= bound {
				t.Errorf("a confirmed revoke took %s, as long as the unconfirmed bound", took)
			}
		})
	}
}
