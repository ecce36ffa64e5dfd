package memory_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/ports"
)

var t0 = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)

func newStore(t *testing.T) (*memory.Store, *ports.FakeClock) {
	t.Helper()
	clock := ports.NewFakeClock(t0)
	s := memory.New(clock)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, clock
}

func session(id string, created time.Time) ports.Session {
	return ports.Session{
		ID: id, User: "alice", Profile: "prod", ServerInstanceID: "inst-1",
		Status: ports.SessionActive, StartedAt: created, CreatedAt: created, UpdatedAt: created,
		ExpiresAt: created.Add(time.Hour),
	}
}

func mustCreate(t *testing.T, st ports.SessionStore, s ports.Session) ports.Session {
	t.Helper()
	got, err := st.CreateSession(context.Background(), s)
	if err != nil {
		t.Fatalf("CreateSession(%s): %v", s.ID, err)
	}
	return got
}

func TestCreateAndGet(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	in := session("s1", t0)
	in.Version = 42 // the store owns Version
	in.CreatedAt = t0.In(time.FixedZone("X", 3600))
	created := mustCreate(t, st, in)
	if created.Version != 1 {
		t.Fatalf("created Version %d, want 1", created.Version)
	}
	got, err := st.GetSession(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.Version = 1
	want.CreatedAt = t0
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if _, err := st.CreateSession(ctx, in); !errors.Is(err, ports.ErrAlreadyExists) {
		t.Fatalf("duplicate create: %v, want ErrAlreadyExists", err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustCreate(t, st, session("s1", t0))
	badStatus := session("s2", t0)
	badStatus.Status = "paused"
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"create empty id", second(st.CreateSession(ctx, session("", t0))), ports.ErrInvalidArgument},
		{"create bad status", second(st.CreateSession(ctx, badStatus)), ports.ErrInvalidArgument},
		{"get missing", second(st.GetSession(ctx, "nope")), ports.ErrNotFound},
		{"get empty id", second(st.GetSession(ctx, "")), ports.ErrInvalidArgument},
		{"update missing", second(st.UpdateSession(ctx, session("nope", t0))), ports.ErrNotFound},
		{"touch missing", second(st.TouchSession(ctx, "nope", t0, 1)), ports.ErrNotFound},
		{"touch negative", second(st.TouchSession(ctx, "s1", t0, -1)), ports.ErrInvalidArgument},
		{"list status unknown", second(st.ListSessionsByStatus(ctx, "paused", ports.Page{Limit: 1})), ports.ErrInvalidArgument},
		{"get cancelled", second(st.GetSession(cancelled, "s1")), context.Canceled},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	_, err := st.GetSession(ctx, "nope")
	if err == nil || err.Error() != `memory: get session "nope": not found` {
		t.Errorf("error %v lacks the context", err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestUpdateIsConditional(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	v1 := mustCreate(t, st, session("s1", t0))
	v1.User = "bob"
	v2, err := st.UpdateSession(ctx, v1)
	if err != nil || v2.Version != 2 || v2.User != "bob" {
		t.Fatalf("update: %+v, %v; want version 2 by bob", v2, err)
	}
	stale := v1 // still Version 1
	stale.User = "mallory"
	if _, err := st.UpdateSession(ctx, stale); !errors.Is(err, ports.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	if got, _ := st.GetSession(ctx, "s1"); got.User != "bob" || got.Version != 2 {
		t.Fatalf("stale update wrote: %+v", got)
	}
	// A missing record is ErrNotFound whatever version the caller holds.
	gone := session("gone", t0)
	gone.Version = 1
	if _, err := st.UpdateSession(ctx, gone); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("update of missing: %v, want ErrNotFound", err)
	}
}

func TestTouch(t *testing.T) {
	t.Parallel()
	st, clock := newStore(t)
	ctx := context.Background()
	s := session("s1", t0)
	s.Status = ports.SessionRevoked
	s.RevokedBy = "bob"
	mustCreate(t, st, s)
	clock.Advance(time.Minute)
	got, err := st.TouchSession(ctx, "s1", t0.Add(30*time.Second), 3)
	if err != nil {
		t.Fatal(err)
	}
	if got.RequestCount != 3 || !got.LastAccessAt.Equal(t0.Add(30*time.Second)) || got.Version != 2 ||
		!got.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after touch %+v", got)
	}
	if got.Status != ports.SessionRevoked || got.RevokedBy != "bob" {
		t.Fatalf("touch changed status: %+v", got)
	}
	// An older access time never moves LastAccessAt back.
	got, err = st.TouchSession(ctx, "s1", t0, 2)
	if err != nil || got.RequestCount != 5 || !got.LastAccessAt.Equal(t0.Add(30*time.Second)) || got.Version != 3 {
		t.Fatalf("after older touch %+v, %v", got, err)
	}
}

func TestExpiryDecidedOnRead(t *testing.T) {
	t.Parallel()
	st, clock := newStore(t)
	ctx := context.Background()
	mustCreate(t, st, session("s1", t0)) // leased for an hour
	clock.Advance(time.Hour)
	got, err := st.GetSession(ctx, "s1")
	if err != nil || got.Status != ports.SessionExpired || got.Version != 1 {
		t.Fatalf("lapsed read: %+v, %v; want expired at version 1", got, err)
	}
	page, err := st.ListSessionsByStatus(ctx, ports.SessionActive, ports.Page{Limit: 10})
	if err != nil || len(page.Sessions) != 0 {
		t.Fatalf("active listing holds a lapsed session: %+v, %v", page, err)
	}
	page, err = st.ListSessionsByStatus(ctx, ports.SessionExpired, ports.Page{Limit: 10})
	if err != nil || len(page.Sessions) != 1 || page.Sessions[0].Status != ports.SessionExpired {
		t.Fatalf("expired listing: %+v, %v", page, err)
	}
}

func TestExpireLapsedSessions(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	lapsed := session("lapsed", t0)
	lapsed.ExpiresAt = t0.Add(time.Minute)
	exact := session("exact", t0)
	exact.ExpiresAt = t0.Add(2 * time.Minute)
	live := session("live", t0)
	live.ExpiresAt = t0.Add(3 * time.Minute)
	revoked := session("revoked", t0)
	revoked.ExpiresAt = t0.Add(time.Minute)
	revoked.Status = ports.SessionRevoked
	for _, s := range []ports.Session{lapsed, exact, live, revoked} {
		mustCreate(t, st, s)
	}
	n, err := st.ExpireLapsedSessions(ctx, t0.Add(2*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("ExpireLapsedSessions = %d, %v; want 2", n, err)
	}
	want := map[string]struct {
		status  ports.SessionStatus
		version int64
	}{
		"lapsed": {ports.SessionExpired, 2}, "exact": {ports.SessionExpired, 2},
		"live": {ports.SessionActive, 1}, "revoked": {ports.SessionRevoked, 1},
	}
	for id, w := range want {
		got, _ := st.GetSession(ctx, id)
		if got.Status != w.status || got.Version != w.version {
			t.Errorf("%s: %s v%d, want %s v%d", id, got.Status, got.Version, w.status, w.version)
		}
	}
}

func TestListingOrderAndPaging(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	// Ties on CreatedAt are broken by ID descending.
	var want []string
	for i := 9; i >= 0; i-- {
		created := t0.Add(time.Duration(i/2) * time.Second)
		for _, suffix := range []string{"b", "a"} {
			id := fmt.Sprintf("s%d%s", i, suffix)
			if i%2 == 0 && suffix == "b" {
				continue
			}
			want = append(want, id)
			mustCreate(t, st, session(id, created))
		}
	}
	other := session("other", t0.Add(time.Hour))
	other.User, other.Profile, other.ServerInstanceID = "bob", "dev", "inst-2"
	mustCreate(t, st, other)

	lists := map[string]func(ports.Page) (ports.SessionPage, error){
		"user":    func(p ports.Page) (ports.SessionPage, error) { return st.ListSessionsByUser(ctx, "alice", p) },
		"profile": func(p ports.Page) (ports.SessionPage, error) { return st.ListSessionsByProfile(ctx, "prod", p) },
		"instance": func(p ports.Page) (ports.SessionPage, error) {
			return st.ListSessionsByServerInstance(ctx, "inst-1", p)
		},
	}
	for name, list := range lists {
		for _, limit := range []int{1, 3, len(want), ports.MaxPageLimit} {
			var got []string
			p := ports.Page{Limit: limit}
			for pages := 0; ; pages++ {
				if pages > len(want) {
					t.Fatalf("%s limit %d: paging does not end", name, limit)
				}
				page, err := list(p)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(page.Sessions) > limit {
					t.Fatalf("%s: page of %d over limit %d", name, len(page.Sessions), limit)
				}
				for _, s := range page.Sessions {
					got = append(got, s.ID)
				}
				if page.Next == "" {
					break
				}
				p.Cursor = page.Next
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s limit %d:\n got %v\nwant %v", name, limit, got, want)
			}
		}
	}
}

func TestListingRejectsBadPages(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustCreate(t, st, session("s1", t0))
	bad := []ports.Page{
		{Limit: 0},
		{Limit: -1},
		{Limit: ports.MaxPageLimit + 1},
		{Limit: 1, Cursor: "%%%"},
		{Limit: 1, Cursor: base64.RawURLEncoding.EncodeToString([]byte("c1|yesterday|s1"))},
		{Limit: 1, Cursor: base64.RawURLEncoding.EncodeToString([]byte("c9|2026-11-03T09:00:00Z|s1"))},
		{Limit: 1, Cursor: base64.RawURLEncoding.EncodeToString([]byte("c1|2026-11-03T09:00:00Z|"))},
	}
	for _, p := range bad {
		if _, err := st.ListSessionsByUser(ctx, "alice", p); !errors.Is(err, ports.ErrInvalidArgument) {
			t.Errorf("page %+v: %v, want ErrInvalidArgument", p, err)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		at time.Time
		id string
	}{
		{t0, "8f3a2c1d9b7e4f60a1c2d3e4f5061728"},
		{t0.Add(123456789 * time.Nanosecond).In(time.FixedZone("Y", -7200)), "id|with|pipes"},
		{time.Time{}, "z"},
	} {
		at, id, err := ports.DecodeCursor(ports.EncodeCursor(tc.at, tc.id))
		if err != nil || !at.Equal(tc.at) || id != tc.id {
			t.Errorf("round trip of %s %q gave %s %q %v", tc.at, tc.id, at, id, err)
		}
	}
}

func TestReturnedRecordsDoNotAlias(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	got := mustCreate(t, st, session("s1", t0))
	got.Status = ports.SessionRevoked
	page, _ := st.ListSessionsByUser(ctx, "alice", ports.Page{Limit: 1})
	page.Sessions[0].User = "mallory"
	again, _ := st.GetSession(ctx, "s1")
	if again.Status != ports.SessionActive || again.User != "alice" {
		t.Fatalf("changing a returned copy changed the store: %+v", again)
	}
}

// Concurrent touches all count, and concurrent compare-and-set increments
// each land exactly once.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustCreate(t, st, session("s1", t0))
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := st.TouchSession(ctx, "s1", t0, 1); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			for done := 0; done < each; {
				cur, err := st.GetSession(ctx, "s1")
				if err != nil {
					t.Error(err)
					return
				}
				cur.ExpiresAt = cur.ExpiresAt.Add(time.Second)
				if _, err := st.UpdateSession(ctx, cur); err == nil {
					done++
				} else if !errors.Is(err, ports.ErrConflict) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, _ := st.GetSession(ctx, "s1")
	if got.RequestCount != workers*each {
		t.Errorf("RequestCount %d, want %d", got.RequestCount, workers*each)
	}
	if want := t0.Add(time.Hour + workers*each*time.Second); !got.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt %s, want %s: an update was lost", got.ExpiresAt, want)
	}
	if got.Version != 1+2*workers*each {
		t.Errorf("Version %d, want %d", got.Version, 1+2*workers*each)
	}
}
