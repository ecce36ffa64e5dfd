package conformance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// testReadAck checks a store that confirms a revoke through the record
// itself (ports.ReadAcknowledger, DynamoDB): the acknowledgement is what its
// ChangeAnnouncer waits for, and it changes nothing else, Version included.
func (s suite) testReadAck(t *testing.T) {
	t.Parallel()
	e := s.open(t)
	acker, ok := e.store.(ports.ReadAcknowledger)
	if !ok {
		t.Skip("the store does not confirm through the record (it has a change feed, or no confirmation at all)")
	}
	announcer, ok := e.store.(ports.ChangeAnnouncer)
	if !ok {
		t.Fatal("a ReadAcknowledger must also be the ChangeAnnouncer that waits for its acknowledgements")
	}
	ctx := t.Context()
	active := e.create(t, e.newSession())
	ended, err := e.store.UpdateSession(ctx, revoked(active, e.ns+"-admin", e.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	notYet := func(what string) {
		t.Helper()
		actx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if err := announcer.Announce(actx, ended); err == nil {
			t.Fatalf("Announce returned confirmed %s", what)
		}
	}
	notYet("before any acknowledgement")
	if err := acker.AckRead(ctx, ended.ID, ended.Version-1); err != nil {
		t.Fatalf("AckRead(an older version): %v", err)
	}
	notYet("for an acknowledgement of an older version")

	if err := acker.AckRead(ctx, ended.ID, ended.Version); err != nil {
		t.Fatalf("AckRead: %v", err)
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := announcer.Announce(actx, ended); err != nil {
		t.Fatalf("Announce after the acknowledgement: %v", err)
	}
	// A lower acknowledgement after a higher one changes nothing, and no
	// acknowledgement is a change: the record reads as the revoke left it.
	if err := acker.AckRead(ctx, ended.ID, 1); err != nil {
		t.Fatalf("AckRead(a version below the recorded one): %v", err)
	}
	if err := announcer.Announce(actx, ended); err != nil {
		t.Fatalf("Announce after a lower acknowledgement: %v", err)
	}
	expectSession(t, "GetSession after the acknowledgements", ended, e.get(t, ended.ID))
	// An update conditional on the revoke's version still lands: the
	// acknowledgements did not move it.
	next := ended
	next.RequestCount++
	if _, err := e.store.UpdateSession(ctx, next); err != nil {
		t.Fatalf("UpdateSession at the revoke's version after the acknowledgements: %v", err)
	}

	ghost := newSessionID()
	err = acker.AckRead(ctx, ghost, 1)
	if !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("AckRead(never created) = %v, want ErrNotFound", err)
	}
	if _, err := e.store.GetSession(ctx, ghost); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("GetSession of a random id after AckRead = %v, want ErrNotFound (AckRead must not create)", err)
	}
}
