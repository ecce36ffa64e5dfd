package redisstore

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/ports"
)

// foreign is data someone else left where a record of ours would live.
type foreign struct {
	name  string
	write func(ctx context.Context, c *redis.Client, key string) error
}

var corruptKinds = []foreign{
	{"a string", func(ctx context.Context, c *redis.Client, key string) error {
		return c.Set(ctx, key, `{"id":`, 0).Err()
	}},
	{"a hash of another program", func(ctx context.Context, c *redis.Client, key string) error {
		return errors.Join(c.Del(ctx, key).Err(), c.HSet(ctx, key, "name", "cart-17", "count", "three").Err())
	}},
}

// putForeign replaces whatever is at key with kind.
func putForeign(t testing.TB, url, key string, kind foreign) {
	t.Helper()
	c := rawClient(t, url)
	defer c.Close()
	if err := kind.write(context.Background(), c, key); err != nil {
		t.Fatalf("write %s at %s: %v", kind.name, key, err)
	}
}

// TestCorruptRecords covers every way a stored record of each type can fail
// validation: reads name the id with ErrCorrupt, writes refuse, nothing
// panics.
func TestCorruptRecords(t *testing.T) {
	url := testenv.Redis(t)
	t.Run("session", func(t *testing.T) {
		corruptRecords(t, url, sessionKind, "user", func(id string) ports.Session { return activeSession(id, "alice", testStart) })
	})
	t.Run("request", func(t *testing.T) {
		corruptRecords(t, url, requestKind, "requester", func(id string) ports.ApprovalRequest { return pendingRequest(id, "alice", testStart) })
	})
	t.Run("breakglass", func(t *testing.T) {
		corruptRecords(t, url, breakGlassKind, "invoker", func(id string) ports.BreakGlassEvent {
			return activeEvent(id, "alice", "alice-profile", testStart)
		})
	})
}

// corruptRecords runs the corruption cases against record type k, whose
// sound record is fixture(id), listed under index listBy as "alice". The
// operations go through k, which every Store method of the type wraps.
func corruptRecords[T any](t *testing.T, url string, k *kind[T], listBy string, fixture func(id string) T) {
	hset := func(field, value string) func(context.Context, *redis.Client, string) error {
		return func(ctx context.Context, c *redis.Client, key string) error {
			return c.HSet(ctx, key, field, value).Err()
		}
	}
	cases := []struct {
		foreign
		// writesRefused: the scripts see it too (all but a moved _pos,
		// which only reads can check).
		writesRefused bool
		// field, when set, is a field only some types have.
		field string
	}{
		{corruptKinds[0], true, ""},
		{corruptKinds[1], true, ""},
		{foreign{"a list", func(ctx context.Context, c *redis.Client, key string) error {
			return errors.Join(c.Del(ctx, key).Err(), c.RPush(ctx, key, "a", "b").Err())
		}}, true, ""},
		{foreign{"schema marker of a later layout", hset(fieldSchema, "2")}, true, ""},
		{foreign{"a field missing", func(ctx context.Context, c *redis.Client, key string) error {
			return c.HDel(ctx, key, fieldStatus).Err()
		}}, true, ""},
		{foreign{"version not a number", hset(fieldVersion, "many")}, true, ""},
		{foreign{"version not canonical", hset(fieldVersion, "007")}, true, ""},
		{foreign{"count not a number", hset(fieldRequests, "many")}, true, fieldRequests},
		{foreign{"duration not a number", hset(fieldDuration, "1h")}, true, fieldDuration},
		{foreign{"flag not 0 or 1", hset(fieldEscalated, "yes")}, true, fieldEscalated},
		{foreign{"unknown status", hset(fieldStatus, "paused")}, true, ""},
		{foreign{"time not a number", hset(fieldCreated, "2031-03-14T09:26:53Z")}, true, ""},
		{foreign{"another id inside", hset(fieldID, "someone-else")}, true, ""},
		{foreign{"version zero", hset(fieldVersion, "0")}, true, ""},
		{foreign{"malformed position", hset(fieldPosition, "xyz")}, true, ""},
		{foreign{"position of another time", hset(fieldPosition, positionOf(testStart.Add(time.Hour)))}, false, ""},
	}
	for _, tc := range cases {
		if tc.field != "" && !slices.Contains(k.fields, tc.field) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := ports.NewFakeClock(testStart)
			store := openStore(t, url, newPrefix(t, url), clock)
			sound := fixture(newID())
			id := k.position(sound).ID
			if _, err := k.create(t.Context(), store, sound); err != nil {
				t.Fatal(err)
			}
			c := rawClient(t, url)
			defer c.Close()
			if err := tc.write(t.Context(), c, k.key(store, id)); err != nil {
				t.Fatalf("corrupt the record: %v", err)
			}

			_, err := k.get(t.Context(), store, id)
			expectCorrupt(t, "get", err, id)
			_, _, err = k.listBy(t.Context(), store, listBy, "alice", ports.Page{Limit: 10})
			expectCorrupt(t, "list by "+listBy, err, id)
			if !tc.writesRefused {
				return
			}
			if k == any(sessionKind) {
				_, err = store.TouchSession(t.Context(), id, testStart, 1)
				expectCorrupt(t, "TouchSession", err, id)
			}
			*k.version(&sound) = 1
			_, err = k.update(t.Context(), store, sound)
			expectCorrupt(t, "update", err, id)
			clock.Advance(48 * time.Hour)
			n, err := k.expireLapsed(t.Context(), store, clock.Now())
			if n != 0 {
				t.Errorf("expire lapsed changed %d corrupt records", n)
			}
			expectCorrupt(t, "expire lapsed", err, id)
		})
	}
}

func expectCorrupt(t *testing.T, what string, err error, id string) {
	t.Helper()
	if !errors.Is(err, ports.ErrCorrupt) || !strings.Contains(err.Error(), id) {
		t.Errorf("%s: %v; want an error wrapping %q naming %s", what, err, ports.ErrCorrupt, id)
	}
}

func TestExpireLapsedSessionsSkipsCorruptAndExpiresTheRest(t *testing.T) {
	url := testenv.Redis(t)
	clock := ports.NewFakeClock(testStart)
	store := openStore(t, url, newPrefix(t, url), clock)
	good, bad := activeSession(newID(), "alice", testStart), activeSession(newID(), "bob", testStart)
	for _, s := range []ports.Session{good, bad} {
		if _, err := store.CreateSession(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	putForeign(t, url, store.recordKey(bad.ID), corruptKinds[0])

	n, err := store.ExpireLapsedSessions(t.Context(), testStart.Add(2*time.Hour))
	if n != 1 {
		t.Errorf("ExpireLapsedSessions changed %d, want 1 (the sound lapsed one)", n)
	}
	expectCorrupt(t, "ExpireLapsedSessions", err, bad.ID)
	if got, err := store.GetSession(t.Context(), good.ID); err != nil || got.Status != ports.SessionExpired || got.Version != 2 {
		t.Errorf("the sound session after the sweep: %+v, %v; want expired at version 2", got, err)
	}
}

// TestTouchComparesTimesExactly pins the Lua comparison of micros: beyond
// 2^53 (a double's exact range), before 1970, and against the zero time.
func TestTouchComparesTimesExactly(t *testing.T) {
	url := testenv.Redis(t)
	store := openStore(t, url, newPrefix(t, url), ports.NewFakeClock(testStart))
	far := time.Date(2400, time.January, 1, 0, 0, 0, 0, time.UTC) // micros > 2^53
	old := time.Date(1950, time.June, 1, 0, 0, 0, 0, time.UTC)    // negative micros
	cases := []struct {
		name   string
		stored time.Time
		at     time.Time
		want   time.Time
	}{
		{"one microsecond later, beyond 2^53", far, far.Add(time.Microsecond), far.Add(time.Microsecond)},
		{"one microsecond earlier, beyond 2^53", far, far.Add(-time.Microsecond), far},
		{"equal", far, far, far},
		{"before 1970, later", old, old.Add(time.Microsecond), old.Add(time.Microsecond)},
		{"before 1970, earlier", old, old.Add(-time.Microsecond), old},
		{"after 1970 over before", old, testStart, testStart},
		{"before 1970 never beats after", testStart, old, testStart},
		{"anything beats the zero time", time.Time{}, old, old},
		{"the zero time never moves it", old, time.Time{}, old},
		{"sub-microsecond digits are dropped", far, far.Add(999 * time.Nanosecond), far},
	}
	for _, tc := range cases {
		s := activeSession(newID(), "alice", testStart)
		s.LastAccessAt = tc.stored
		if _, err := store.CreateSession(t.Context(), s); err != nil {
			t.Fatalf("%s: create: %v", tc.name, err)
		}
		got, err := store.TouchSession(t.Context(), s.ID, tc.at, 1)
		if err != nil {
			t.Fatalf("%s: touch: %v", tc.name, err)
		}
		if !got.LastAccessAt.Equal(tc.want) || got.LastAccessAt.IsZero() != tc.want.IsZero() {
			t.Errorf("%s: LastAccessAt %s after touching at %s, want %s", tc.name, got.LastAccessAt, tc.at, tc.want)
		}
	}
}

func TestUpdateMovesIndexEntries(t *testing.T) {
	url := testenv.Redis(t)
	store := openStore(t, url, newPrefix(t, url), ports.NewFakeClock(testStart))
	s, err := store.CreateSession(t.Context(), activeSession(newID(), "alice", testStart))
	if err != nil {
		t.Fatal(err)
	}
	moved := s
	moved.User, moved.Profile, moved.ServerInstanceID = "bob", "bob-profile", "bob-instance"
	moved.CreatedAt = testStart.Add(-time.Minute)
	if _, err := store.UpdateSession(t.Context(), moved); err != nil {
		t.Fatal(err)
	}
	c := rawClient(t, url)
	defer c.Close()
	for _, key := range []string{
		store.indexKey("user", "alice"), store.indexKey("profile", "alice-profile"), store.indexKey("instance", "alice-instance"),
	} {
		if n, err := c.ZCard(t.Context(), key).Result(); err != nil || n != 0 {
			t.Errorf("old index %s holds %d members (%v), want 0", key, n, err)
		}
	}
	want := memberOf(moved.CreatedAt, moved.ID)
	for _, key := range []string{
		store.indexKey("user", "bob"), store.indexKey("profile", "bob-profile"),
		store.indexKey("instance", "bob-instance"), store.indexKey("status", "active"),
	} {
		if got, err := c.ZRange(t.Context(), key, 0, -1).Result(); err != nil || !slices.Equal(got, []string{want}) {
			t.Errorf("new index %s = %q (%v), want [%q]", key, got, err, want)
		}
	}
}

// TestListingSkipsStaleIndexEntries: an index entry whose record is gone or
// has moved (a listing reads the index, then the records) is left out.
func TestListingSkipsStaleIndexEntries(t *testing.T) {
	url := testenv.Redis(t)
	store := openStore(t, url, newPrefix(t, url), ports.NewFakeClock(testStart))
	alice := activeSession(newID(), "alice", testStart)
	bob := activeSession(newID(), "bob", testStart.Add(time.Second))
	for _, s := range []ports.Session{alice, bob} {
		if _, err := store.CreateSession(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	c := rawClient(t, url)
	defer c.Close()
	aliceIndex := store.indexKey("user", "alice")
	stale := []string{memberOf(bob.CreatedAt, bob.ID), memberOf(testStart.Add(time.Minute), newID())}
	for _, m := range stale {
		if err := c.ZAdd(t.Context(), aliceIndex, redis.Z{Member: m}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 10} {
		page, err := store.ListSessionsByUser(t.Context(), "alice", ports.Page{Limit: limit})
		if err != nil {
			t.Fatalf("limit %d: %v", limit, err)
		}
		if len(page.Sessions) != 1 || page.Sessions[0].ID != alice.ID || page.Next != "" {
			t.Errorf("limit %d: listed %d sessions, Next %q; want only alice's and no next page", limit, len(page.Sessions), page.Next)
		}
	}
}

func TestKeysCarryThePrefixHashTag(t *testing.T) {
	url := testenv.Redis(t)
	prefix := newPrefix(t, url)
	store := openStore(t, url, prefix, ports.NewFakeClock(testStart))
	if _, err := store.CreateSession(t.Context(), activeSession(newID(), "alice", testStart)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateRequest(t.Context(), pendingRequest(newID(), "alice", testStart)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateBreakGlass(t.Context(), activeEvent(newID(), "alice", "prod", testStart)); err != nil {
		t.Fatal(err)
	}
	c := rawClient(t, url)
	defer c.Close()
	var keys []string
	iter := c.Scan(t.Context(), 0, "*"+prefix+"*", 100).Iterator()
	for iter.Next(t.Context()) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	// A session: record and four indexes; a request: record and three; an
	// active break-glass event: record and four.
	if len(keys) != 14 {
		t.Errorf("a created session, request and break-glass event made keys %q, want 14", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "{"+prefix+"}:") {
			t.Errorf("key %q does not start with the hash tag {%s}:", k, prefix)
		}
	}
	if got := store.EventsChannel(); got != "{"+prefix+"}:events" {
		t.Errorf("EventsChannel() = %q", got)
	}
}

func TestEventsOnStatusChange(t *testing.T) {
	url := testenv.Redis(t)
	clock := ports.NewFakeClock(testStart)
	store := openStore(t, url, newPrefix(t, url), clock)
	c := rawClient(t, url)
	defer c.Close()
	sub := c.Subscribe(t.Context(), store.EventsChannel())
	defer sub.Close()
	if _, err := sub.Receive(t.Context()); err != nil { // the subscription confirmation
		t.Fatal(err)
	}
	events := sub.Channel()

	revokee, err := store.CreateSession(t.Context(), activeSession(newID(), "alice", testStart))
	if err != nil {
		t.Fatal(err)
	}
	lapser, err := store.CreateSession(t.Context(), activeSession(newID(), "bob", testStart))
	if err != nil {
		t.Fatal(err)
	}
	// Writes that keep the status publish nothing: the first event must be the revoke.
	touched, err := store.TouchSession(t.Context(), revokee.ID, testStart, 1)
	if err != nil {
		t.Fatal(err)
	}
	touched.SourceIdentity += "+"
	if touched, err = store.UpdateSession(t.Context(), touched); err != nil {
		t.Fatal(err)
	}
	revoked := touched
	revoked.Status, revoked.RevokedBy, revoked.RevokedAt = ports.SessionRevoked, "admin", testStart
	if _, err := store.UpdateSession(t.Context(), revoked); err != nil {
		t.Fatal(err)
	}
	if n, err := store.ExpireLapsedSessions(t.Context(), testStart.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("ExpireLapsedSessions = %d, %v; want 1", n, err)
	}

	for _, want := range []Event{{EventSession, string(ports.SessionRevoked), revokee.ID}, {EventSession, string(ports.SessionExpired), lapser.ID}} {
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
}

func TestParseEvent(t *testing.T) {
	cases := []struct {
		payload string
		want    Event
		ok      bool
	}{
		{"revoked 0123abcd", Event{EventSession, "revoked", "0123abcd"}, true},
		{"expired id with spaces", Event{EventSession, "expired", "id with spaces"}, true},
		{"active x", Event{EventSession, "active", "x"}, true},
		{"request approved 0123abcd", Event{EventRequest, "approved", "0123abcd"}, true},
		{"request expired id with spaces", Event{EventRequest, "expired", "id with spaces"}, true},
		{"breakglass active 0123abcd", Event{EventBreakGlass, "active", "0123abcd"}, true},
		{"breakglass closed x", Event{EventBreakGlass, "closed", "x"}, true},
		{"revoked", Event{}, false},
		{"revoked ", Event{}, false},
		{"paused 0123", Event{}, false},
		{"", Event{}, false},
		{"request revoked 0123", Event{}, false},     // a session status for a request
		{"breakglass approved 0123", Event{}, false}, // a request status for an event
		{"request approved", Event{}, false},
		{"request approved ", Event{}, false},
		{"session revoked 0123", Event{}, false}, // sessions carry no kind word
	}
	for _, tc := range cases {
		got, err := ParseEvent(tc.payload)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseEvent(%q) = %+v, %v; want %+v, ok %v", tc.payload, got, err, tc.want, tc.ok)
		}
		if !tc.ok && !errors.Is(err, ports.ErrInvalidArgument) {
			t.Errorf("ParseEvent(%q) error %v does not wrap ErrInvalidArgument", tc.payload, err)
		}
		if tc.ok && got.String() != tc.payload {
			t.Errorf("Event.String() = %q, want %q", got.String(), tc.payload)
		}
	}
}

// TestOpenUnreachable: a closed port fails fast with ErrUnavailable, naming
// the address and never the password.
func TestOpenUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const password = "hunter2-do-not-print"
	began := time.Now()
	s, err := Open(t.Context(), Options{Addr: addr, Password: password}, ports.NewFakeClock(testStart))
	took := time.Since(began)
	if err == nil {
		s.Close()
		t.Fatalf("Open(%s) of a closed port succeeded", addr)
	}
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("Open error %v does not wrap ErrUnavailable", err)
	}
	if msg := err.Error(); !strings.Contains(msg, addr) || strings.Contains(msg, password) || !strings.Contains(msg, "is redis-server running?") {
		t.Errorf("Open error %q: want the address %s and the hint, never the password", msg, addr)
	}
	if took > DefaultDialTimeout {
		t.Errorf("Open of a closed port took %s, want under the %s dial timeout", took, DefaultDialTimeout)
	}
}

func TestOpenWrongPassword(t *testing.T) {
	url := testenv.Redis(t)
	opts := optionsFor(t, url, "unused")
	opts.Username, opts.Password = "nobody-"+newID(), "hunter2-do-not-print"
	s, err := Open(t.Context(), opts, ports.NewFakeClock(testStart))
	if err == nil {
		s.Close()
		t.Fatal("Open with a user the server does not know succeeded")
	}
	if !errors.Is(err, ports.ErrUnavailable) || strings.Contains(err.Error(), opts.Password) || !strings.Contains(err.Error(), opts.Addr) {
		t.Errorf("Open error %q: want ErrUnavailable naming %s, never the password", err, opts.Addr)
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	clock := ports.NewFakeClock(testStart)
	cases := []struct {
		name  string
		opts  Options
		clock ports.Clock
	}{
		{"empty address", Options{}, clock},
		{"nil clock", Options{Addr: "127.0.0.1:1"}, nil},
		{"negative timeout", Options{Addr: "127.0.0.1:1", ReadTimeout: -time.Second}, clock},
		{"cluster with a database", Options{Addr: "127.0.0.1:1", Cluster: true, DB: 3}, clock},
	}
	for _, tc := range cases {
		if _, err := Open(t.Context(), tc.opts, tc.clock); !errors.Is(err, ports.ErrInvalidArgument) {
			t.Errorf("%s: Open error %v, want ErrInvalidArgument", tc.name, err)
		}
	}
}

// TestCloseLeavesTheCallersClient: New's client belongs to the caller; the
// closed store refuses work with ErrUnavailable.
func TestCloseLeavesTheCallersClient(t *testing.T) {
	url := testenv.Redis(t)
	c := rawClient(t, url)
	defer c.Close()
	s := New(c, newPrefix(t, url), ports.NewFakeClock(testStart))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Errorf("the caller's client after Store.Close: %v", err)
	}
	if _, err := s.GetSession(t.Context(), newID()); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("GetSession on a closed store: %v, want ErrUnavailable", err)
	}

	owned := openStore(t, url, newPrefix(t, url), ports.NewFakeClock(testStart))
	if err := owned.Close(); err != nil {
		t.Fatal(err)
	}
	if err := owned.client.Ping(t.Context()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Open's client after Close: ping %v, want redis.ErrClosed", err)
	}
}

// TestPositionOrder: index members sort bytewise exactly as ports.Position.Compare
// reversed, across negative times, ties and ids that prefix each other.
func TestPositionOrder(t *testing.T) {
	times := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, 0), time.Unix(0, 1000), testStart, time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	var sessions []ports.Session
	for _, at := range times {
		for _, id := range []string{"a", "ab", "b", "B", "a|b"} {
			sessions = append(sessions, ports.Session{ID: id, CreatedAt: at})
		}
	}
	ports.SortByPosition(sessions, ports.SessionPosition)
	var members []string
	for _, s := range sessions {
		members = append(members, memberOf(s.CreatedAt, s.ID))
	}
	if !slices.IsSortedFunc(members, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("members in listing order are not bytewise descending:\n%q", members)
	}
	for i, m := range members {
		if id, ok := idOfMember(m); !ok || id != sessions[i].ID {
			t.Errorf("idOfMember(%q) = %q, %v; want %q", m, id, ok, sessions[i].ID)
		}
	}
}

func TestCreateRejectsUnstorableTimes(t *testing.T) {
	url := testenv.Redis(t)
	store := openStore(t, url, newPrefix(t, url), ports.NewFakeClock(testStart))
	s := activeSession(newID(), "alice", testStart)
	s.ExpiresAt = time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC) // past int64 micros
	if _, err := store.CreateSession(t.Context(), s); !errors.Is(err, ports.ErrInvalidArgument) {
		t.Errorf("CreateSession with year 300000: %v, want ErrInvalidArgument", err)
	}
	if _, err := store.GetSession(t.Context(), s.ID); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("GetSession after the rejected create: %v, want ErrNotFound", err)
	}
}
