package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// newEvent is an active break-glass event of the namespace, invoked a
// minute ago for two hours, every field set. Its profile is fresh, so two
// new events never trip the one-active-per-invoker-and-profile rule unless
// a test puts them on the same profile.
func (e env) newEvent() ports.BreakGlassEvent {
	created := e.clock.Now().Add(-time.Minute)
	return ports.BreakGlassEvent{
		ID:            newSessionID(),
		Invoker:       e.ns + "-invoker",
		InvokerARN:    "arn:aws:sts::111122223333:assumed-role/oncall/" + e.ns + "-invoker",
		Profile:       e.ns + "-profile-" + newSessionID()[:8],
		ReasonCode:    "incident",
		Justification: "conformance: the primary database refuses connections in " + e.ns,
		Duration:      2 * time.Hour,
		Status:        ports.BreakGlassActive,
		Escalated:     true,
		CreatedAt:     created,
		UpdatedAt:     created.Add(time.Second),
		ExpiresAt:     created.Add(2 * time.Hour),
	}
}

// closedAt returns ev as the core writes it when closing at now.
func closedAt(ev ports.BreakGlassEvent, by string, now time.Time) ports.BreakGlassEvent {
	ev.Status = ports.BreakGlassClosed
	ev.ClosedBy = by
	ev.ClosedReason = "conformance: closed by " + by
	ev.UpdatedAt = now
	return ev
}

var events = kind[ports.BreakGlassEvent]{
	noun:      "break-glass event",
	position:  ports.BreakGlassPosition,
	place:     func(ev *ports.BreakGlassEvent, at time.Time, id string) { ev.CreatedAt, ev.ID = at, id },
	setStatus: func(ev *ports.BreakGlassEvent, st string) { ev.Status = ports.BreakGlassStatus(st) },
	version:   func(ev *ports.BreakGlassEvent) *int64 { return &ev.Version },
	create: func(ctx context.Context, e env, ev ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
		return e.breakglass.CreateBreakGlass(ctx, ev)
	},
	get: func(ctx context.Context, e env, id string) (ports.BreakGlassEvent, error) {
		return e.breakglass.GetBreakGlass(ctx, id)
	},
	update: func(ctx context.Context, e env, ev ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
		return e.breakglass.UpdateBreakGlass(ctx, ev)
	},
}

var (
	// eventsByInvoker members share the invoker, each on its own profile.
	eventsByInvoker = recordListing[ports.BreakGlassEvent]{
		name: "ListBreakGlassByInvoker",
		list: func(ctx context.Context, e env, key string, p ports.Page) ([]ports.BreakGlassEvent, string, error) {
			page, err := e.breakglass.ListBreakGlassByInvoker(ctx, key, p)
			return page.Events, page.Next, err
		},
		key:  func(e env) string { return e.ns + "-invoker" },
		join: func(_ env, ev *ports.BreakGlassEvent, key string) { ev.Invoker = key },
		strangers: func(_ env, m ports.BreakGlassEvent, key string) []ports.BreakGlassEvent {
			return keyStrangers(m, key, func(ev *ports.BreakGlassEvent, v string) { ev.Invoker = v })
		},
	}
	// eventsByProfile members share the profile, each invoked by another user.
	eventsByProfile = recordListing[ports.BreakGlassEvent]{
		name: "ListBreakGlassByProfile",
		list: func(ctx context.Context, e env, key string, p ports.Page) ([]ports.BreakGlassEvent, string, error) {
			page, err := e.breakglass.ListBreakGlassByProfile(ctx, key, p)
			return page.Events, page.Next, err
		},
		key: func(e env) string { return e.ns + "-profile" },
		join: func(e env, ev *ports.BreakGlassEvent, key string) {
			ev.Profile = key
			ev.Invoker = e.ns + "-invoker-" + newSessionID()[:8]
		},
		strangers: func(_ env, m ports.BreakGlassEvent, key string) []ports.BreakGlassEvent {
			return keyStrangers(m, key, func(ev *ports.BreakGlassEvent, v string) { ev.Profile = v })
		},
	}
	// eventsByStatus lists active events; its strangers are the other stored
	// states plus an active event that has run out, which must be listed as
	// expired, not active (and which does not block its active twin).
	eventsByStatus = recordListing[ports.BreakGlassEvent]{
		name: "ListBreakGlassByStatus",
		list: func(ctx context.Context, e env, key string, p ports.Page) ([]ports.BreakGlassEvent, string, error) {
			page, err := e.breakglass.ListBreakGlassByStatus(ctx, ports.BreakGlassStatus(key), p)
			return page.Events, page.Next, err
		},
		key: func(env) string { return string(ports.BreakGlassActive) },
		join: func(e env, ev *ports.BreakGlassEvent, _ string) {
			ev.Status = ports.BreakGlassActive
			ev.ExpiresAt = e.clock.Now().Add(time.Hour)
		},
		strangers: func(e env, m ports.BreakGlassEvent, _ string) []ports.BreakGlassEvent {
			lapsed := m
			lapsed.ExpiresAt = e.clock.Now() // lapsed exactly now: at or before counts
			stored := m
			stored.Status = ports.BreakGlassExpired
			return []ports.BreakGlassEvent{closedAt(m, e.ns+"-admin", e.clock.Now()), stored, lapsed}
		},
	}
	eventListings = []recordListing[ports.BreakGlassEvent]{eventsByInvoker, eventsByProfile, eventsByStatus}
)

// Sizes of the break-glass races.
const (
	activeCreators    = 8
	activeRaceRounds  = 10
	closeExpiryRounds = 100
)

func (s suite) testBreakGlass(t *testing.T) {
	t.Run("Create", func(t *testing.T) {
		t.Run("RoundTrip", func(t *testing.T) {
			t.Parallel()
			s.eventRoundTrip(t, s.openBreakGlass(t))
		})
		t.Run("DuplicateID", func(t *testing.T) {
			t.Parallel()
			recordDuplicate(t, s.openBreakGlass(t), events, env.newEvent, func(ev *ports.BreakGlassEvent) {
				ev.Invoker += "-intruder"
			})
		})
		t.Run("InvalidArgument", func(t *testing.T) {
			t.Parallel()
			recordCreateInvalid(t, s.openBreakGlass(t), events, env.newEvent)
		})
		t.Run("OneActivePerInvokerAndProfile", func(t *testing.T) {
			t.Parallel()
			s.oneActivePerInvokerAndProfile(t, s.openBreakGlass(t))
		})
	})
	t.Run("Get/Missing", func(t *testing.T) {
		t.Parallel()
		recordGetMissing(t, s.openBreakGlass(t), events, env.newEvent)
	})
	t.Run("Update", func(t *testing.T) {
		t.Run("Close", func(t *testing.T) {
			t.Parallel()
			e := s.openBreakGlass(t)
			created := events.mustCreate(t, e, e.newEvent())
			e.clock.Advance(time.Minute)
			closed := closedAt(created, e.ns+"-admin", e.clock.Now().Add(789*time.Nanosecond))
			got := events.mustUpdate(t, e, closed)
			want := closed
			want.Version = 2
			events.expect(t, "UpdateBreakGlass(close) result", want, got)
			events.expect(t, "GetBreakGlass after close", want, events.mustGet(t, e, created.ID))
		})
		t.Run("VersionMismatchAndMissing", func(t *testing.T) {
			t.Parallel()
			recordUpdateMismatch(t, s.openBreakGlass(t), events, env.newEvent,
				func(ev *ports.BreakGlassEvent) { ev.Justification += " (edited)" })
		})
	})
	t.Run("Listing", func(t *testing.T) {
		for _, l := range eventListings {
			t.Run(l.name, func(t *testing.T) {
				t.Run("OrderAndPaging", func(t *testing.T) {
					t.Parallel()
					recordOrderAndPaging(t, s.openBreakGlass(t), events, l, env.newEvent)
				})
				t.Run("BadPage", func(t *testing.T) {
					t.Parallel()
					recordBadPage(t, s.openBreakGlass(t), events, l, env.newEvent)
				})
			})
		}
		t.Run("UnknownStatus", func(t *testing.T) {
			t.Parallel()
			e := s.openBreakGlass(t)
			for _, st := range []ports.BreakGlassStatus{"", "open", "Active"} {
				_, err := e.breakglass.ListBreakGlassByStatus(t.Context(), st, ports.Page{Limit: 10})
				expectErr(t, fmt.Sprintf("ListBreakGlassByStatus(%q)", st), err, ports.ErrInvalidArgument)
			}
		})
	})
	t.Run("Expiry/ByInjectedClock", func(t *testing.T) {
		t.Parallel()
		s.eventExpiry(t, s.openBreakGlass(t))
	})
	t.Run("Concurrency", func(t *testing.T) {
		t.Run("CreateActiveOneWinner", func(t *testing.T) {
			t.Parallel()
			s.createActiveOneWinner(t, s.openBreakGlass(t))
		})
		t.Run("CloseVersusExpiry", func(t *testing.T) {
			t.Parallel()
			s.closeVersusExpiry(t, s.openBreakGlass(t))
		})
	})
	t.Run("SharedHandles", func(t *testing.T) {
		t.Parallel()
		s.eventSharedHandles(t)
	})
	t.Run("Corrupt", func(t *testing.T) {
		t.Run("NeverCreated", func(t *testing.T) {
			t.Parallel()
			e := s.openCorruptible(t, KindBreakGlass)
			id := newSessionID()
			e.putCorrupt(t, KindBreakGlass, id)
			expectCorruptRead(t, "GetBreakGlass", id, func() (ports.BreakGlassEvent, error) { return e.breakglass.GetBreakGlass(t.Context(), id) })
		})
		t.Run("OverExisting", func(t *testing.T) {
			t.Parallel()
			s.eventCorruptOverExisting(t)
		})
	})
}

func (s suite) eventRoundTrip(t *testing.T, e env) {
	zone := time.FixedZone("UTC+09:45", 9*3600+2700)
	skew := func(t time.Time) time.Time { return t.Add(321 * time.Nanosecond).In(zone) }
	cases := []struct {
		name   string
		mutate func(*ports.BreakGlassEvent)
	}{
		{"active, every field set, times skewed", func(ev *ports.BreakGlassEvent) {
			ev.CreatedAt, ev.UpdatedAt, ev.ExpiresAt = skew(ev.CreatedAt), skew(ev.UpdatedAt), skew(ev.ExpiresAt)
		}},
		{"closed, close fields set", func(ev *ports.BreakGlassEvent) { *ev = closedAt(*ev, e.ns+"-admin", skew(e.clock.Now())) }},
		{"stored expired", func(ev *ports.BreakGlassEvent) { ev.Status = ports.BreakGlassExpired }},
		{"not escalated, duration with nanoseconds", func(ev *ports.BreakGlassEvent) {
			ev.Escalated, ev.Duration, ev.ReasonCode = false, 3*time.Hour+59*time.Minute+987_654_321, "other"
		}},
		{"no end, optional fields empty", func(ev *ports.BreakGlassEvent) {
			ev.ExpiresAt, ev.Justification, ev.ReasonCode, ev.Duration, ev.InvokerARN = time.Time{}, "", "", 0, ""
		}},
		{"separators and unicode in indexed fields", func(ev *ports.BreakGlassEvent) {
			ev.Invoker += ":ü/ser#1|x"
			ev.Profile += "/prod:eu-west-1 é\\"
			ev.Justification = "quotes \" and newlines\n and ☃"
		}},
	}
	for _, tc := range cases {
		in := e.newEvent()
		tc.mutate(&in)
		in.Version = 7 // the store owns Version: create writes 1 whatever it is given
		created, err := e.breakglass.CreateBreakGlass(t.Context(), in)
		if err != nil {
			t.Errorf("%s: CreateBreakGlass: %v", tc.name, err)
			continue
		}
		want := in
		want.Version = 1
		events.expect(t, tc.name+": CreateBreakGlass result", want, created)
		events.expect(t, tc.name+": GetBreakGlass", want, events.mustGet(t, e, in.ID))
	}
}

// oneActivePerInvokerAndProfile walks the rule: a second active event for
// the same invoker and profile is refused, naming the first, until the
// first is closed or runs out; other invokers, other profiles and events
// that are not active themselves are never refused.
func (s suite) oneActivePerInvokerAndProfile(t *testing.T, e env) {
	first := events.mustCreate(t, e, e.newEvent())
	twin := func() ports.BreakGlassEvent {
		ev := e.newEvent()
		ev.Invoker, ev.Profile = first.Invoker, first.Profile
		return ev
	}
	refused := func(what string, ev ports.BreakGlassEvent, blocker string) {
		t.Helper()
		_, err := e.breakglass.CreateBreakGlass(t.Context(), ev)
		expectErr(t, what, err, ports.ErrAlreadyExists)
		if err != nil && !strings.Contains(err.Error(), blocker) {
			t.Errorf("%s: error %q does not name the active event %s", what, err, blocker)
		}
		_, err = e.breakglass.GetBreakGlass(t.Context(), ev.ID)
		expectErr(t, what+": GetBreakGlass of the refused event", err, ports.ErrNotFound)
	}

	refused("a second active event for the same invoker and profile", twin(), first.ID)
	otherProfile := e.newEvent()
	otherProfile.Invoker = first.Invoker
	events.mustCreate(t, e, otherProfile)
	otherInvoker := twin()
	otherInvoker.Invoker += "-colleague"
	events.mustCreate(t, e, otherInvoker)
	// Records that are not effectively active themselves never conflict.
	events.mustCreate(t, e, closedAt(twin(), e.ns+"-admin", e.clock.Now()))
	storedExpired := twin()
	storedExpired.Status = ports.BreakGlassExpired
	events.mustCreate(t, e, storedExpired)
	alreadyOver := twin()
	alreadyOver.ExpiresAt = e.clock.Now()
	events.mustCreate(t, e, alreadyOver)
	refused("an active event after other records of the pair were stored", twin(), first.ID)

	// Closing the first frees the pair.
	events.mustUpdate(t, e, closedAt(first, e.ns+"-admin", e.clock.Now()))
	second := events.mustCreate(t, e, twin())
	refused("an active event while the second one is active", twin(), second.ID)

	// So does running out, by the injected clock, with no sweep.
	e.clock.Set(second.ExpiresAt)
	third := events.mustCreate(t, e, twin())
	if got := events.mustGet(t, e, third.ID); got.Status != ports.BreakGlassActive {
		t.Errorf("the event created after the second ran out reads %q, want active", got.Status)
	}
	refused("an active event while the third one is active", twin(), third.ID)
}

func (s suite) eventExpiry(t *testing.T, e env) {
	start := e.clock.Now()
	lasting := func(d time.Duration) ports.BreakGlassEvent {
		ev := e.newEvent()
		ev.CreatedAt, ev.UpdatedAt, ev.Duration, ev.ExpiresAt = start, start, d, start.Add(d)
		return ev
	}
	lapsing := events.mustCreate(t, e, lasting(30*time.Minute))
	boundary := events.mustCreate(t, e, lasting(time.Hour)) // runs out exactly at the new now
	future := events.mustCreate(t, e, lasting(2*time.Hour))
	noEnd := lasting(0)
	noEnd.ExpiresAt = time.Time{}
	noEnd = events.mustCreate(t, e, noEnd)
	closed := events.mustCreate(t, e, closedAt(lasting(10*time.Minute), e.ns+"-admin", start))

	events.expect(t, "GetBreakGlass before it runs out", lapsing, events.mustGet(t, e, lapsing.ID))

	e.clock.Advance(time.Hour)
	now := e.clock.Now()
	expired := func(ev ports.BreakGlassEvent) ports.BreakGlassEvent {
		ev.Status = ports.BreakGlassExpired
		return ev
	}
	for _, c := range []struct {
		what string
		want ports.BreakGlassEvent
	}{
		{"ran out 30 minutes ago", expired(lapsing)},
		{"ran out exactly now", expired(boundary)},
		{"ending in an hour", future},
		{"with no end", noEnd},
		{"closed, end passed", closed},
	} {
		events.expect(t, "GetBreakGlass of an event "+c.what+" (read by the injected clock, Version unchanged)",
			c.want, events.mustGet(t, e, c.want.ID))
	}
	for _, c := range []struct {
		status ports.BreakGlassStatus
		want   []string
	}{
		{ports.BreakGlassExpired, []string{lapsing.ID, boundary.ID}},
		{ports.BreakGlassActive, []string{future.ID, noEnd.ID}},
		{ports.BreakGlassClosed, []string{closed.ID}},
	} {
		listed := listAllRecords(t, e, events, eventsByStatus, string(c.status))
		expectSameIDs(t, fmt.Sprintf("ListBreakGlassByStatus(%s) after the clock moved", c.status), idsOf(events, listed), c.want...)
		for _, ev := range listed {
			if ev.Status != c.status {
				t.Errorf("ListBreakGlassByStatus(%s) lists %s as %q", c.status, ev.ID, ev.Status)
			}
		}
	}
	for _, ev := range listAllRecords(t, e, events, eventsByInvoker, lapsing.Invoker) {
		if (ev.ID == lapsing.ID || ev.ID == boundary.ID) && ev.Status != ports.BreakGlassExpired {
			t.Errorf("ListBreakGlassByInvoker shows lapsed event %s as %q, want expired", ev.ID, ev.Status)
		}
	}

	n, err := e.breakglass.ExpireLapsedBreakGlass(t.Context(), start)
	if err != nil || n != 0 {
		t.Errorf("ExpireLapsedBreakGlass(a now before every event ends) = %d, %v; want 0, nil", n, err)
	}
	n, err = e.breakglass.ExpireLapsedBreakGlass(t.Context(), now)
	if err != nil {
		t.Fatalf("ExpireLapsedBreakGlass: %v", err)
	}
	if n != 2 {
		t.Errorf("ExpireLapsedBreakGlass = %d, want 2 (this store holds exactly two lapsed active events)", n)
	}
	for _, ev := range []ports.BreakGlassEvent{lapsing, boundary} {
		want := expired(ev)
		want.UpdatedAt, want.Version = now, ev.Version+1
		events.expect(t, "GetBreakGlass after ExpireLapsedBreakGlass (status expired, UpdatedAt the sweep's now, Version+1, nothing else)",
			want, events.mustGet(t, e, ev.ID))
	}
	for _, ev := range []ports.BreakGlassEvent{future, noEnd, closed} {
		events.expect(t, "an event ExpireLapsedBreakGlass must not change", ev, events.mustGet(t, e, ev.ID))
	}
	n, err = e.breakglass.ExpireLapsedBreakGlass(t.Context(), now)
	if err != nil || n != 0 {
		t.Errorf("second ExpireLapsedBreakGlass = %d, %v; want 0, nil", n, err)
	}
}

// createActiveOneWinner races 8 creators of active events (each its own id)
// for one invoker and profile: exactly one is stored.
func (s suite) createActiveOneWinner(t *testing.T, e env) {
	for round := range s.raceRounds(activeRaceRounds) {
		base := e.newEvent()
		mine := make([]ports.BreakGlassEvent, activeCreators)
		for w := range mine {
			mine[w] = base
			mine[w].ID = newSessionID()
			mine[w].Justification = fmt.Sprintf("%s (creator %d)", base.Justification, w)
		}
		errs := make([]error, activeCreators)
		race(activeCreators, func(w int) { _, errs[w] = e.breakglass.CreateBreakGlass(t.Context(), mine[w]) })
		winner, err := oneWinner(errs, ports.ErrAlreadyExists)
		if err != nil {
			t.Fatalf("round %d: %d creators for one invoker and profile: %v", round, activeCreators, err)
		}
		for w, err := range errs {
			if w != winner && !strings.Contains(err.Error(), mine[winner].ID) {
				t.Errorf("round %d: creator %d's error %q does not name the winner %s", round, w, err, mine[winner].ID)
			}
		}
		want := mine[winner]
		want.Version = 1
		listed := listAllRecords(t, e, events, eventsByProfile, base.Profile)
		if len(listed) != 1 {
			t.Fatalf("round %d: ListBreakGlassByProfile lists %v, want only the winner %s", round, idsOf(events, listed), want.ID)
		}
		events.expect(t, fmt.Sprintf("round %d: the one stored event", round), want, listed[0])
	}
}

// closeVersusExpiry races a close of a lapsed event against the sweep:
// exactly one of them changes it.
func (s suite) closeVersusExpiry(t *testing.T, e env) {
	for round := range s.raceRounds(closeExpiryRounds) {
		ev := e.newEvent()
		ev.ExpiresAt = e.clock.Now().Add(-time.Second)
		created := events.mustCreate(t, e, ev)
		var closeErr, sweepErr error
		var swept int
		race(2, func(w int) {
			if w == 0 {
				_, closeErr = e.breakglass.UpdateBreakGlass(t.Context(), closedAt(created, e.ns+"-admin", e.clock.Now()))
				return
			}
			swept, sweepErr = e.breakglass.ExpireLapsedBreakGlass(t.Context(), e.clock.Now())
		})
		if sweepErr != nil {
			t.Fatalf("round %d: ExpireLapsedBreakGlass: %v", round, sweepErr)
		}
		got := events.mustGet(t, e, created.ID)
		switch {
		case closeErr == nil && swept == 0 && got.Status == ports.BreakGlassClosed && got.Version == 2:
		case errors.Is(closeErr, ports.ErrConflict) && swept == 1 && got.Status == ports.BreakGlassExpired && got.Version == 2:
		default:
			t.Fatalf("round %d: close error %v, sweep changed %d, stored %q version %d; want exactly one of them to win",
				round, closeErr, swept, got.Status, got.Version)
		}
	}
}

func (s suite) eventSharedHandles(t *testing.T) {
	s.require(t, "SharedHandles", s.features.SharedHandles)
	e := s.openBreakGlass(t)
	other := openOther[ports.BreakGlassStore](t, e, "BreakGlassStore")
	viaOther := e
	viaOther.breakglass = other

	created := events.mustCreate(t, e, e.newEvent())
	events.expect(t, "GetBreakGlass through the other handle", created, events.mustGet(t, viaOther, created.ID))
	_, err := other.CreateBreakGlass(t.Context(), created)
	expectErr(t, "CreateBreakGlass of the same id through the other handle", err, ports.ErrAlreadyExists)
	// The one-active rule holds across handles (two processes).
	twin := e.newEvent()
	twin.Invoker, twin.Profile = created.Invoker, created.Profile
	_, err = other.CreateBreakGlass(t.Context(), twin)
	expectErr(t, "CreateBreakGlass of a second active event for the pair through the other handle", err, ports.ErrAlreadyExists)

	// A close from another process must reach the running server on its
	// very next read.
	closed := events.mustUpdate(t, viaOther, closedAt(created, e.ns+"-admin", e.clock.Now()))
	events.expect(t, "GetBreakGlass through the first handle right after the other closed", closed, events.mustGet(t, e, created.ID))
	_, err = e.breakglass.UpdateBreakGlass(t.Context(), created)
	expectErr(t, "UpdateBreakGlass through the first handle from before the close", err, ports.ErrConflict)
	events.mustCreate(t, e, twin)

	ids := idsOf(events, listAllRecords(t, viaOther, events, eventsByInvoker, created.Invoker))
	expectSameIDs(t, "ListBreakGlassByInvoker through the other handle", ids, created.ID, twin.ID)
}

func (s suite) eventCorruptOverExisting(t *testing.T) {
	e := s.openCorruptible(t, KindBreakGlass)
	good := events.mustCreate(t, e, e.newEvent())
	bad := events.mustCreate(t, e, e.newEvent()) // same invoker and status, its own profile
	e.putCorrupt(t, KindBreakGlass, bad.ID)

	expectCorruptRead(t, "GetBreakGlass", bad.ID, func() (ports.BreakGlassEvent, error) { return e.breakglass.GetBreakGlass(t.Context(), bad.ID) })
	events.expect(t, "GetBreakGlass of a sound neighbour", good, events.mustGet(t, e, good.ID))

	for _, c := range []struct {
		l     recordListing[ports.BreakGlassEvent]
		key   string
		sound []string
	}{
		{eventsByInvoker, good.Invoker, []string{good.ID}},
		{eventsByProfile, bad.Profile, nil},
		{eventsByStatus, string(ports.BreakGlassActive), []string{good.ID}},
	} {
		var items []ports.BreakGlassEvent
		var err error
		noPanic(t, c.l.name, func() { items, _, err = c.l.list(t.Context(), e, c.key, ports.Page{Limit: 10}) })
		if err != nil {
			expectCorruptErr(t, c.l.name, err, bad.ID)
			continue
		}
		expectSameIDs(t, c.l.name+" (its index no longer reaches the corrupt record)", idsOf(events, items), c.sound...)
	}

	var err error
	noPanic(t, "UpdateBreakGlass", func() {
		_, err = e.breakglass.UpdateBreakGlass(t.Context(), closedAt(bad, e.ns+"-admin", e.clock.Now()))
	})
	if err == nil {
		t.Error("UpdateBreakGlass of a corrupt record: nil error, want one")
	}
	// A create for the corrupt record's pair may fail (the store cannot
	// tell whether it is active) but must not panic.
	twin := e.newEvent()
	twin.Invoker, twin.Profile = bad.Invoker, bad.Profile
	noPanic(t, "CreateBreakGlass for the pair of a corrupt record", func() { _, _ = e.breakglass.CreateBreakGlass(t.Context(), twin) })
	noPanic(t, "ExpireLapsedBreakGlass", func() {
		_, err = e.breakglass.ExpireLapsedBreakGlass(t.Context(), e.clock.Now().Add(24*time.Hour))
	})
	if err != nil && !errors.Is(err, ports.ErrCorrupt) {
		t.Errorf("ExpireLapsedBreakGlass with a corrupt record: %v; want nil (skipped) or ErrCorrupt", err)
	}
}
