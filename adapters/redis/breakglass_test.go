package redisstore

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/ports"
)

// activeIndexKey is where the events stored active for the pair sit.
func activeIndexKey(s *Store, invoker, profile string) string {
	pair := map[string]string{fieldInvoker: invoker, fieldProfile: profile}
	ix := breakGlassKind.indexes[3]
	return breakGlassKind.indexBase(s) + ix.name + ":" + ix.value(func(name string) string { return pair[name] })
}

// TestActivePairsNeverCollide: pairs whose plain concatenation is the same
// are different pairs; none blocks another.
func TestActivePairsNeverCollide(t *testing.T) {
	url := testenv.Redis(t)
	store := openStore(t, url, newPrefix(t, url), ports.NewFakeClock(testStart))
	cases := []struct{ name, invoker, profile string }{
		{"split one way", "ab", "c"},
		{"split the other way", "a", "bc"},
		{"a separator byte in the invoker", "a\x00b", "c"},
		{"a separator byte in the profile", "a", "b\x00c"},
		{"looks like a length prefix", "1:a", "b"},
		{"looks like a length prefix, split differently", "1", ":ab"},
		{"empty invoker", "", "1:ab"},
		{"empty profile", "1:ab", ""},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		key := activeIndexKey(store, tc.invoker, tc.profile)
		if other, ok := seen[key]; ok {
			t.Errorf("%s and %s share the index key %q", tc.name, other, key)
		}
		seen[key] = tc.name
		if _, err := store.CreateBreakGlass(t.Context(), activeEvent(newID(), tc.invoker, tc.profile, testStart)); err != nil {
			t.Errorf("%s: CreateBreakGlass: %v; no other event has this pair", tc.name, err)
		}
	}
	page, err := store.ListBreakGlassByStatus(t.Context(), ports.BreakGlassActive, ports.Page{Limit: 100})
	if err != nil || len(page.Events) != len(cases) {
		t.Errorf("ListBreakGlassByStatus(active) = %d events, %v; want %d", len(page.Events), err, len(cases))
	}
}

// TestActiveIndexFollowsStatus: the pair index holds an event exactly while
// it is stored active, through close and the sweep.
func TestActiveIndexFollowsStatus(t *testing.T) {
	url := testenv.Redis(t)
	store := openStore(t, url, newPrefix(t, url), ports.NewFakeClock(testStart))
	c := rawClient(t, url)
	defer c.Close()
	key := activeIndexKey(store, "alice", "prod")
	expectMembers := func(when string, ids ...string) {
		t.Helper()
		got, err := c.ZRange(t.Context(), key, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for _, m := range got {
			id, _ := idOfMember(m)
			gotIDs = append(gotIDs, id)
		}
		if strings.Join(gotIDs, ",") != strings.Join(ids, ",") {
			t.Errorf("%s: the active index holds %q, want %q", when, gotIDs, ids)
		}
	}

	first, err := store.CreateBreakGlass(t.Context(), activeEvent(newID(), "alice", "prod", testStart))
	if err != nil {
		t.Fatal(err)
	}
	expectMembers("after the create", first.ID)
	closed := first
	closed.Status, closed.ClosedBy, closed.ClosedReason = ports.BreakGlassClosed, "bob", "resolved"
	if _, err := store.UpdateBreakGlass(t.Context(), closed); err != nil {
		t.Fatal(err)
	}
	expectMembers("after the close")

	second, err := store.CreateBreakGlass(t.Context(), activeEvent(newID(), "alice", "prod", testStart.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	expectMembers("after the second create", second.ID)
	if n, err := store.ExpireLapsedBreakGlass(t.Context(), second.ExpiresAt); err != nil || n != 1 {
		t.Fatalf("ExpireLapsedBreakGlass = %d, %v; want 1", n, err)
	}
	expectMembers("after the sweep")
}

// TestCreateBreakGlassPastAnUnreadableEvent: an event in the way that
// cannot be read refuses the create, naming it (the store cannot tell
// whether it is active); an index entry whose record is gone does not.
func TestCreateBreakGlassPastAnUnreadableEvent(t *testing.T) {
	url := testenv.Redis(t)
	store := openStore(t, url, newPrefix(t, url), ports.NewFakeClock(testStart))
	c := rawClient(t, url)
	defer c.Close()
	for _, kind := range corruptKinds {
		t.Run(kind.name, func(t *testing.T) {
			bad, err := store.CreateBreakGlass(t.Context(), activeEvent(newID(), "alice", kind.name, testStart))
			if err != nil {
				t.Fatal(err)
			}
			putForeign(t, url, breakGlassKind.key(store, bad.ID), kind)
			next := activeEvent(newID(), "alice", kind.name, testStart)
			_, err = store.CreateBreakGlass(t.Context(), next)
			expectCorrupt(t, "CreateBreakGlass past a corrupt active event", err, bad.ID)
			if _, err := store.GetBreakGlass(t.Context(), next.ID); !errors.Is(err, ports.ErrNotFound) {
				t.Errorf("GetBreakGlass of the refused event: %v, want ErrNotFound", err)
			}

			if err := c.Del(t.Context(), breakGlassKind.key(store, bad.ID)).Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := store.CreateBreakGlass(t.Context(), next); err != nil {
				t.Errorf("CreateBreakGlass past an index entry whose record is gone: %v", err)
			}
		})
	}
}

// TestStatusEventsOfRequestsAndBreakGlass: every stored status change of a
// request or break-glass event, creates included, is published once, in
// order; writes that keep the status and refused writes publish nothing.
func TestStatusEventsOfRequestsAndBreakGlass(t *testing.T) {
	url := testenv.Redis(t)
	store := openStore(t, url, newPrefix(t, url), ports.NewFakeClock(testStart))
	c := rawClient(t, url)
	defer c.Close()
	sub := c.Subscribe(t.Context(), store.EventsChannel())
	defer sub.Close()
	if _, err := sub.Receive(t.Context()); err != nil { // the subscription confirmation
		t.Fatal(err)
	}
	events := sub.Channel()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	req, err := store.CreateRequest(t.Context(), pendingRequest(newID(), "alice", testStart))
	must(err)
	_, err = store.CreateRequest(t.Context(), req) // refused: the id is taken
	if !errors.Is(err, ports.ErrAlreadyExists) {
		t.Fatalf("second CreateRequest: %v, want ErrAlreadyExists", err)
	}
	req.Justification += " (edited)"
	req, err = store.UpdateRequest(t.Context(), req) // same status
	must(err)
	req.Status, req.Approver, req.ApprovedAt, req.ExpiresAt = ports.RequestApproved, "bob", testStart, testStart.Add(time.Hour)
	_, err = store.UpdateRequest(t.Context(), req)
	must(err)
	n, err := store.ExpireLapsedRequests(t.Context(), testStart.Add(time.Hour))
	must(err)
	if n != 1 {
		t.Fatalf("ExpireLapsedRequests = %d, want 1", n)
	}

	ev, err := store.CreateBreakGlass(t.Context(), activeEvent(newID(), "alice", "prod", testStart))
	must(err)
	_, err = store.CreateBreakGlass(t.Context(), activeEvent(newID(), "alice", "prod", testStart)) // refused: one active per pair
	if !errors.Is(err, ports.ErrAlreadyExists) {
		t.Fatalf("second active CreateBreakGlass: %v, want ErrAlreadyExists", err)
	}
	ev.Status, ev.ClosedBy = ports.BreakGlassClosed, "bob"
	_, err = store.UpdateBreakGlass(t.Context(), ev)
	must(err)

	for _, want := range []Event{
		{EventRequest, string(ports.RequestPending), req.ID},
		{EventRequest, string(ports.RequestApproved), req.ID},
		{EventRequest, string(ports.RequestExpired), req.ID},
		{EventBreakGlass, string(ports.BreakGlassActive), ev.ID},
		{EventBreakGlass, string(ports.BreakGlassClosed), ev.ID},
	} {
		expectEvent(t, events, want)
	}
}

func expectEvent(t *testing.T, events <-chan *redis.Message, want Event) {
	t.Helper()
	select {
	case msg := <-events:
		got, err := ParseEvent(msg.Payload)
		if err != nil || got != want {
			t.Errorf("event %q (%v), want %q", msg.Payload, err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no event %q within 5s", want)
	}
}
