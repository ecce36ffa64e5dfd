package dynamo

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// DynamoDB refuses "" in an index key, so an empty user, profile or instance
// is stored as an absent attribute: the session round-trips, and listing by
// the empty value is refused rather than silently empty.
func TestEmptyIndexValues(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	store := New(client, newTestTable(t, client), ports.NewFakeClock(testNow))
	ses := sampleSession()
	ses.User, ses.Profile, ses.ServerInstanceID = "", "", ""
	created, err := store.CreateSession(t.Context(), ses)
	if err != nil {
		t.Fatalf("CreateSession with empty index values: %v", err)
	}
	if got, err := store.GetSession(t.Context(), ses.ID); err != nil || !reflect.DeepEqual(got, created) {
		t.Errorf("GetSession = %+v, %v; want %+v", got, err, created)
	}
	for name, list := range map[string]func() error{
		"ByUser": func() error { _, err := store.ListSessionsByUser(t.Context(), "", ports.Page{Limit: 10}); return err },
		"ByProfile": func() error {
			_, err := store.ListSessionsByProfile(t.Context(), "", ports.Page{Limit: 10})
			return err
		},
		"ByServerInstance": func() error {
			_, err := store.ListSessionsByServerInstance(t.Context(), "", ports.Page{Limit: 10})
			return err
		},
	} {
		if err := list(); !errors.Is(err, ports.ErrInvalidArgument) {
			t.Errorf("List%s(\"\") = %v, want ErrInvalidArgument", name, err)
		}
	}
	page, err := store.ListSessionsByStatus(t.Context(), ports.SessionActive, ports.Page{Limit: 10})
	if err != nil || len(page.Sessions) != 1 || !reflect.DeepEqual(page.Sessions[0], created) {
		t.Errorf("ListSessionsByStatus(active) = %+v, %v; want only %s", page.Sessions, err, created.ID)
	}
}

// One foreign item among the active sessions must not stop the sweep: the
// sound lapsed sessions are expired and counted, and the foreign one is
// reported, by id, as corrupt.
func TestExpireLapsedSkipsCorrupt(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	table := newTestTable(t, client)
	store := New(client, table, ports.NewFakeClock(testNow))
	var lapsed []ports.Session
	for i := range 3 {
		ses := sampleSession()
		ses.ID = randomHex(16)
		ses.ExpiresAt = testNow.Add(-time.Duration(i+1) * time.Minute)
		created, err := store.CreateSession(t.Context(), ses)
		if err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		lapsed = append(lapsed, created)
	}
	bad := lapsed[1]
	putForeign(t, client, table, bad.ID)

	n, err := store.ExpireLapsedSessions(t.Context(), testNow)
	if n != 2 {
		t.Errorf("ExpireLapsedSessions changed %d, want 2", n)
	}
	if !errors.Is(err, ports.ErrCorrupt) || !strings.Contains(err.Error(), bad.ID) {
		t.Errorf("ExpireLapsedSessions error = %v, want ErrCorrupt naming %s", err, bad.ID)
	}
	for _, ses := range []ports.Session{lapsed[0], lapsed[2]} {
		got, err := store.GetSession(t.Context(), ses.ID)
		if err != nil || got.Status != ports.SessionExpired || got.Version != 2 || !got.UpdatedAt.Equal(testNow) {
			t.Errorf("after the sweep: %+v, %v; want expired at version 2, updated at %s", got, err, testNow)
		}
	}
}

// A touch retried after it had landed (the SDK retrying a lost reply) is
// applied once: the count is never doubled.
func TestTouchRetriedAfterItLandedCountsOnce(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	store := New(client, newTestTable(t, client), ports.NewFakeClock(testNow))
	ses := sampleSession()
	ses.RequestCount = 1 // the sample's count sits at the int64 edge
	created, err := store.CreateSession(t.Context(), ses)
	if err != nil {
		t.Fatal(err)
	}
	at := created.LastAccessAt.Add(time.Minute)
	for _, later := range []time.Time{at, at.Add(-time.Hour)} { // the forward and the count-only path
		before, err := store.GetSession(t.Context(), created.ID)
		if err != nil {
			t.Fatal(err)
		}
		token := touchToken()
		for range 3 {
			if _, err := store.touchOnce(t.Context(), created.ID, later, 5, token); err != nil {
				t.Fatalf("touch: %v", err)
			}
		}
		after, err := store.GetSession(t.Context(), created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := after.RequestCount - before.RequestCount; got != 5 {
			t.Fatalf("one touch of 5 sent three times added %d", got)
		}
	}
}
