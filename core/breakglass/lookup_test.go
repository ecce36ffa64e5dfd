package breakglass

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// invoke runs the whole invocation path a command runs: rule, history,
// Invoke, CreateBreakGlass.
func invoke(t *testing.T, store ports.BreakGlassStore, clock *ports.FakeClock, n int, who ports.Identity, profile string) (ports.BreakGlassEvent, []string, error) {
	t.Helper()
	ctx := context.Background()
	now := clock.Now()
	rule, _ := testPolicyParsed(t).BreakGlassRuleFor(who, profile)
	history, err := History(ctx, store, who.Name, profile, HistorySince(rule, now))
	if err != nil {
		return ports.BreakGlassEvent{}, nil, err
	}
	e, warnings, err := Invoke(idN(n), who, profile, ReasonIncident, justification, time.Hour, rule, history, now)
	if err != nil {
		return ports.BreakGlassEvent{}, nil, err
	}
	stored, err := store.CreateBreakGlass(ctx, e)
	return stored, warnings, err
}

func closeEvent(t *testing.T, store ports.BreakGlassStore, clock *ports.FakeClock, id string, by ports.Identity) error {
	t.Helper()
	_, err := UpdateWithRetry(context.Background(), store, id, func(e ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
		rule, _ := testPolicyParsed(t).BreakGlassRuleFor(by, e.Profile)
		return Close(e, by, rule, "resolved", clock.Now())
	})
	return err
}

func TestLookupFollowsTheEvent(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	ctx := context.Background()
	lookup := NewLookup(store, testPolicyNow)
	find := func() (ports.BreakGlassGrant, error) {
		return lookup.ActiveBreakGlass(ctx, alice, "prod", clock.Now())
	}

	if _, err := find(); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("before invoking: %v, want ErrNotFound", err)
	}
	e, _, err := invoke(t, store, clock, 1, alice, "prod")
	if err != nil {
		t.Fatal(err)
	}
	grant, err := find()
	if err != nil || grant.ID != e.ID || !grant.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("grant = %+v, %v", grant, err)
	}
	for _, other := range []struct {
		user    ports.Identity
		profile string
	}{{alice, "prod-eu"}, {bob, "prod"}, {ports.Identity{Source: "os"}, "prod"}, {alice, ""}} {
		if _, err := lookup.ActiveBreakGlass(ctx, other.user, other.profile, clock.Now()); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("lookup %q on %q = %v, want ErrNotFound", other.user.Name, other.profile, err)
		}
	}
	clock.Advance(10 * time.Minute)
	if err := closeEvent(t, store, clock, e.ID, bob); err != nil {
		t.Fatal(err)
	}
	if _, err := find(); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("after close: %v, want ErrNotFound", err)
	}
}

func TestLookupStopsAtTheEnd(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	e, _, err := invoke(t, store, clock, 1, alice, "prod")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour - time.Nanosecond)
	if _, err := NewLookup(store, testPolicyNow).ActiveBreakGlass(context.Background(), alice, "prod", clock.Now()); err != nil {
		t.Fatalf("last instant: %v", err)
	}
	clock.Advance(time.Nanosecond)
	if _, err := NewLookup(store, testPolicyNow).ActiveBreakGlass(context.Background(), alice, "prod", clock.Now()); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("after %s: %v, want ErrNotFound", e.ExpiresAt, err)
	}
}

// failingLister fails every listing, to show store errors are not "not found".
type failingLister struct{ ports.BreakGlassStore }

func (failingLister) ListBreakGlassByInvoker(context.Context, string, ports.Page) (ports.BreakGlassPage, error) {
	return ports.BreakGlassPage{}, fmt.Errorf("dial: %w", ports.ErrUnavailable)
}

func TestLookupAndHistoryStoreErrors(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	broken := failingLister{store}
	_, err := NewLookup(broken, testPolicyNow).ActiveBreakGlass(context.Background(), alice, "prod", clock.Now())
	if !errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("lookup error = %v, want ErrUnavailable", err)
	}
	if _, err := History(context.Background(), broken, "alice", "prod", t0); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("history error = %v, want ErrUnavailable", err)
	}
}

func TestHistory(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	ctx := context.Background()
	seed := []ports.BreakGlassEvent{
		past(1, "alice", "prod", t0, 25*time.Hour), // before since
		past(2, "alice", "prod", t0, 2*time.Hour),  // both listings
		past(3, "alice", "dev", t0, 3*time.Hour),   // by invoker
		past(4, "bob", "prod", t0, 4*time.Hour),    // by profile
		past(5, "bob", "dev", t0, time.Hour),       // neither
		past(6, "alice", "prod", t0, 24*time.Hour), // exactly at since: excluded
	}
	for _, e := range seed {
		e.Version = 0
		if _, err := store.CreateBreakGlass(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := History(ctx, store, "alice", "prod", clock.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range got {
		count[e.ID]++
	}
	want := map[string]int{idN(2): 2, idN(3): 1, idN(4): 1}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Fatalf("History ids = %v, want %v", count, want)
	}
}

// TestRateLimitsThroughTheStore runs invocations through the store, the way
// the command does, until each limit bites.
func TestRateLimitsThroughTheStore(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)

	first, warnings, err := invoke(t, store, clock, 1, alice, "prod")
	if err != nil || first.Escalated || len(warnings) != 0 {
		t.Fatalf("first: %+v %q %v", first, warnings, err)
	}
	// Still active: refused, by Invoke's own check and, without history, by the store.
	_, _, err = invoke(t, store, clock, 2, alice, "prod")
	wantError(t, err, []error{ports.ErrAlreadyExists}, "alice already has an active break-glass for prod")
	blind, _, err := Invoke(idN(2), alice, "prod", ReasonIncident, justification, time.Hour, testRule(t), nil, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateBreakGlass(context.Background(), blind); !errors.Is(err, ports.ErrAlreadyExists) {
		t.Fatalf("store created a second active event: %v", err)
	}

	// Closed, but inside the cooldown.
	clock.Advance(5 * time.Minute)
	if err := closeEvent(t, store, clock, first.ID, alice); err != nil {
		t.Fatal(err)
	}
	_, _, err = invoke(t, store, clock, 2, alice, "prod")
	wantError(t, err, []error{ErrRateLimited, ErrForbidden}, "cooldown: next break-glass for prod allowed at 2026-11-02T09:30:00Z")

	// Exactly 30m after the first started: allowed; the second is not escalated.
	clock.Set(t0.Add(30 * time.Minute))
	second, _, err := invoke(t, store, clock, 2, alice, "prod")
	if err != nil || second.Escalated {
		t.Fatalf("second: %+v %v", second, err)
	}
	// The third (on the rule's other profile) is escalated.
	third, warnings, err := invoke(t, store, clock, 3, alice, "prod-eu")
	if err != nil || !third.Escalated || len(warnings) != 1 {
		t.Fatalf("third: %+v %q %v", third, warnings, err)
	}
	// A fourth, once no cooldown applies, is over max_per_user.
	clock.Set(t0.Add(3 * time.Hour))
	_, _, err = invoke(t, store, clock, 4, alice, "prod")
	wantError(t, err, []error{ErrRateLimited, ErrForbidden}, "max_per_user 3): next allowed at 2026-11-03T09:00:00Z")
	// bob is not limited by alice's count.
	if _, _, err := invoke(t, store, clock, 5, bob, "prod"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	// A day after alice's first, one slot is free again.
	clock.Set(t0.Add(24 * time.Hour))
	if _, _, err := invoke(t, store, clock, 6, alice, "prod"); err != nil {
		t.Fatalf("a window later: %v", err)
	}
	// mallory is in no rule.
	_, _, err = invoke(t, store, clock, 7, mallory, "prod")
	wantError(t, err, []error{ErrForbidden}, "no break-glass rule lets mallory invoke break-glass for prod")
}

// TestConcurrentCloses: two people closing the same event at once; exactly
// one wins, the other is told it is already closed.
func TestConcurrentCloses(t *testing.T) {
	t.Parallel()
	for round := range 20 {
		store, clock := newStore(t)
		e, _, err := invoke(t, store, clock, round+1, alice, "prod")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, who := range []ports.Identity{alice, bob} {
			wg.Go(func() { errs[i] = closeEvent(t, store, clock, e.ID, who) })
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: close errors %v / %v, want exactly one success", round, errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil && !errors.Is(err, ports.ErrInvalidTransition) {
				t.Fatalf("round %d: loser error = %v", round, err)
			}
		}
	}
}

func TestUpdateWithRetryExpiresWhatReadsExpired(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	e, _, err := invoke(t, store, clock, 1, alice, "prod")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	saved, err := UpdateWithRetry(context.Background(), store, e.ID, func(cur ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
		return Expire(cur, clock.Now())
	})
	if err != nil || saved.Status != ports.BreakGlassExpired || saved.Version != 2 {
		t.Fatalf("Expire through the store = %+v, %v", saved, err)
	}
	// Closing it afterwards is refused.
	err = closeEvent(t, store, clock, e.ID, alice)
	wantError(t, err, []error{ports.ErrInvalidTransition}, "has already expired")
}

// The server's lookup honours only events the policy in force authorizes.
func TestLookupHonoursOnlyAuthorizedEvents(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		event  func(e *ports.BreakGlassEvent)
		policy func() (*policy.Policy, error)
		want   bool
	}{
		{"an event the rule allows", func(*ports.BreakGlassEvent) {}, testPolicyNow, true},
		{"written for a user the rule does not list", func(e *ports.BreakGlassEvent) { e.Invoker = "mallory" }, testPolicyNow, false},
		{"a reason code the rule does not allow", func(e *ports.BreakGlassEvent) { e.ReasonCode = ReasonMaintenance }, testPolicyNow, false},
		{"longer than the rule's maximum", func(e *ports.BreakGlassEvent) { e.Duration = 3 * time.Hour }, testPolicyNow, false},
		{"a user since taken out of the rule", func(*ports.BreakGlassEvent) {}, func() (*policy.Policy, error) {
			return policy.Parse([]byte(strings.Replace(testPolicy, "users: [alice, bob]", "users: [bob]", 1)))
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store, clock := newStore(t)
			e := active()
			tc.event(&e)
			if _, err := store.CreateBreakGlass(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			_, err := NewLookup(store, tc.policy).ActiveBreakGlass(context.Background(), ports.Identity{Name: e.Invoker, ARN: e.InvokerARN, Source: "os"}, "prod", clock.Now())
			if got := err == nil; got != tc.want {
				t.Fatalf("honoured = %v (err %v), want %v", got, err, tc.want)
			}
		})
	}
}
