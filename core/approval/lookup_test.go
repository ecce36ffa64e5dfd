package approval

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

// idN is the n-th test id; ids grow with n so listing order is predictable.
func idN(n int) string { return fmt.Sprintf("%032x", n) }

// create stores a fresh request of requester for profile at the clock's now.
func create(t *testing.T, store ports.ApprovalStore, clock *ports.FakeClock, n int, requester ports.Identity, profile string) ports.ApprovalRequest {
	t.Helper()
	r, _, err := NewRequest(idN(n), requester, profile, justification, time.Hour, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.CreateRequest(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

// decide runs one transition through UpdateWithRetry, the way a command does.
func decide(t *testing.T, store ports.ApprovalStore, id string, mutate func(ports.ApprovalRequest) (ports.ApprovalRequest, error)) (ports.ApprovalRequest, error) {
	t.Helper()
	return UpdateWithRetry(context.Background(), store, id, mutate)
}

// TestStoreAccessIsNotApproval: whoever can write to the store still goes
// through Approve, which consults the approver list. The original system let
// anyone with write access approve anything.
func TestStoreAccessIsNotApproval(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	rule := testRule(t)
	ctx := context.Background()
	r := create(t, store, clock, 1, alice, "prod")

	for _, who := range []ports.Identity{mallory, alice} {
		_, err := decide(t, store, r.ID, func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
			return Approve(cur, who, rule, "", clock.Now())
		})
		if !errors.Is(err, ErrForbidden) {
			t.Fatalf("%s approving alice's request: error = %v, want ErrForbidden", who.Name, err)
		}
	}
	got, err := store.GetRequest(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != ports.RequestPending || got.Version != 1 || got.Approver != "" {
		t.Fatalf("refused approvals changed the stored request: %+v", got)
	}
	if _, err := NewLookup(store, testPolicyNow).ActiveApproval(ctx, alice, "prod", clock.Now()); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("lookup after refused approvals = %v, want ErrNotFound", err)
	}
}

func TestLookupFollowsTheRequest(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	rule := testRule(t)
	ctx := context.Background()
	lookup := NewLookup(store, testPolicyNow)
	active := func() (ports.ApprovalGrant, error) { return lookup.ActiveApproval(ctx, alice, "prod", clock.Now()) }

	r := create(t, store, clock, 1, alice, "prod")
	if _, err := active(); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("pending request: lookup error = %v, want ErrNotFound", err)
	}

	clock.Advance(3 * time.Hour) // approved late: the window starts now
	approvedAt := clock.Now()
	if _, err := decide(t, store, r.ID, func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
		return Approve(cur, bob, rule, "go", clock.Now())
	}); err != nil {
		t.Fatal(err)
	}
	grant, err := active()
	if err != nil || grant.ID != r.ID || !grant.ExpiresAt.Equal(approvedAt.Add(time.Hour)) {
		t.Fatalf("approved request: grant %+v, %v; want %s until %s", grant, err, r.ID, approvedAt.Add(time.Hour))
	}
	for _, other := range []struct {
		user    ports.Identity
		profile string
	}{{alice, "staging"}, {bob, "prod"}, {ports.Identity{Source: "os"}, "prod"}, {alice, ""}} {
		if _, err := lookup.ActiveApproval(ctx, other.user, other.profile, clock.Now()); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("lookup for %q on %q = %v, want ErrNotFound", other.user.Name, other.profile, err)
		}
	}

	clock.Advance(time.Hour - time.Nanosecond)
	if _, err := active(); err != nil {
		t.Fatalf("last instant of the window: %v", err)
	}
	clock.Advance(time.Nanosecond)
	if _, err := active(); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("window over: lookup error = %v, want ErrNotFound", err)
	}
}

func TestLookupAfterCancel(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	rule := testRule(t)
	ctx := context.Background()
	r := create(t, store, clock, 1, alice, "prod")
	if _, err := decide(t, store, r.ID, func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
		return Approve(cur, carol, rule, "", clock.Now())
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLookup(store, testPolicyNow).ActiveApproval(ctx, alice, "prod", clock.Now()); err != nil {
		t.Fatalf("approved: %v", err)
	}
	if _, err := decide(t, store, r.ID, func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
		return Cancel(cur, bob, rule, clock.Now())
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLookup(store, testPolicyNow).ActiveApproval(ctx, alice, "prod", clock.Now()); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("cancelled: lookup error = %v, want ErrNotFound", err)
	}
}

func TestLookupFindsAnOlderApprovalPastNewerRequests(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	rule := testRule(t)
	ctx := context.Background()
	r := create(t, store, clock, 1, alice, "prod")
	if _, err := decide(t, store, r.ID, func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
		return Approve(cur, bob, rule, "", clock.Now())
	}); err != nil {
		t.Fatal(err)
	}
	// More than one page of newer requests: pending, for other profiles, denied.
	for n := 2; n < 2+lookupPage+10; n++ {
		clock.Advance(time.Second)
		profile := "prod"
		if n%3 == 0 {
			profile = "staging"
		}
		create(t, store, clock, n, alice, profile)
	}
	grant, err := NewLookup(store, testPolicyNow).ActiveApproval(ctx, alice, "prod", clock.Now())
	if err != nil || grant.ID != r.ID {
		t.Fatalf("grant = %+v, %v; want %s", grant, err, r.ID)
	}
}

func TestLookupIsBounded(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	rule := testRule(t)
	ctx := context.Background()
	r := create(t, store, clock, 1, alice, "prod")
	if _, err := decide(t, store, r.ID, func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
		return Approve(cur, bob, rule, "", clock.Now())
	}); err != nil {
		t.Fatal(err)
	}
	// One request fewer than the scan limit still finds it; one more does not (fail closed).
	for n := 2; n < 2+MaxLookupScan-1; n++ {
		create(t, store, clock, n, alice, "staging")
	}
	if _, err := NewLookup(store, testPolicyNow).ActiveApproval(ctx, alice, "prod", clock.Now()); err != nil {
		t.Fatalf("approval at position %d: %v", MaxLookupScan, err)
	}
	create(t, store, clock, 2+MaxLookupScan, alice, "staging")
	if _, err := NewLookup(store, testPolicyNow).ActiveApproval(ctx, alice, "prod", clock.Now()); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("approval past the scan limit: error = %v, want ErrNotFound", err)
	}
}

func TestLookupStopsAtRequestsTooOldToApply(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	hooked := &hookStore{ApprovalStore: store}
	ctx := context.Background()
	// Two full pages of requests, all created more than 32h before the lookup.
	for n := 1; n <= 2*lookupPage; n++ {
		create(t, store, clock, n, alice, "prod")
	}
	clock.Advance(DecisionWindow + MaxDuration + time.Second)
	if _, err := NewLookup(hooked, testPolicyNow).ActiveApproval(ctx, alice, "prod", clock.Now()); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("error = %v, want ErrNotFound", err)
	}
	if hooked.listed != 1 {
		t.Fatalf("lookup read %d pages, want 1: it should stop at the first request too old to apply", hooked.listed)
	}
}

func TestLookupStoreError(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	hooked := &hookStore{ApprovalStore: store, listErr: fmt.Errorf("dial: %w", ports.ErrUnavailable)}
	_, err := NewLookup(hooked, testPolicyNow).ActiveApproval(context.Background(), alice, "prod", clock.Now())
	if !errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("error = %v, want ErrUnavailable and not ErrNotFound", err)
	}
}

func TestUpdateWithRetryRereadsAfterAConflict(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	rule := testRule(t)
	r := create(t, store, clock, 1, alice, "prod")
	// alice cancels between bob's read and bob's write.
	var once sync.Once
	hooked := &hookStore{ApprovalStore: store}
	hooked.beforeUpdate = func(ctx context.Context, inner ports.ApprovalStore) {
		once.Do(func() {
			cur, err := inner.GetRequest(ctx, r.ID)
			if err != nil {
				t.Error(err)
				return
			}
			cancelled, err := Cancel(cur, alice, rule, clock.Now())
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := inner.UpdateRequest(ctx, cancelled); err != nil {
				t.Error(err)
			}
		})
	}
	_, err := UpdateWithRetry(context.Background(), hooked, r.ID, func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
		return Approve(cur, bob, rule, "", clock.Now())
	})
	wantError(t, err, ports.ErrInvalidTransition, "was cancelled")
	got, err := store.GetRequest(context.Background(), r.ID)
	if err != nil || got.Status != ports.RequestCancelled {
		t.Fatalf("stored = %+v, %v; want cancelled", got, err)
	}
}

func TestUpdateWithRetryGivesUp(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	r := create(t, store, clock, 1, alice, "prod")
	hooked := &hookStore{ApprovalStore: store}
	// Someone else writes before every one of our writes.
	hooked.beforeUpdate = func(ctx context.Context, inner ports.ApprovalStore) {
		cur, err := inner.GetRequest(ctx, r.ID)
		if err == nil {
			cur.UpdatedAt = cur.UpdatedAt.Add(time.Nanosecond)
			_, err = inner.UpdateRequest(ctx, cur)
		}
		if err != nil {
			t.Error(err)
		}
	}
	_, err := UpdateWithRetry(context.Background(), hooked, r.ID, func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
		return cur, nil
	})
	wantError(t, err, ports.ErrConflict, fmt.Sprintf("gave up after %d conflicting attempts", MaxUpdateAttempts))
}

func TestUpdateWithRetryReturnsOtherErrors(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	_, err := UpdateWithRetry(context.Background(), store, idN(9), func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
		t.Error("mutate called for a missing request")
		return cur, nil
	})
	wantError(t, err, ports.ErrNotFound, "")
}

// TestConcurrentDecisions races real writers on the reference store: an
// approve against a deny has exactly one winner; an approve against the
// requester's cancel always ends cancelled (cancel first: the approve is
// refused; approve first: the approved request is then cancelled).
func TestConcurrentDecisions(t *testing.T) {
	t.Parallel()
	rule := testRule(t)
	for round := range 20 {
		store, clock := newStore(t)
		approveDeny := create(t, store, clock, 2*round+1, alice, "prod")
		approveCancel := create(t, store, clock, 2*round+2, alice, "prod")
		now := clock.Now()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		run := func(i int, id string, mutate func(ports.ApprovalRequest) (ports.ApprovalRequest, error)) {
			wg.Go(func() { _, errs[i] = UpdateWithRetry(context.Background(), store, id, mutate) })
		}
		run(0, approveDeny.ID, func(r ports.ApprovalRequest) (ports.ApprovalRequest, error) { return Approve(r, bob, rule, "", now) })
		run(1, approveDeny.ID, func(r ports.ApprovalRequest) (ports.ApprovalRequest, error) { return Deny(r, carol, rule, "", now) })
		run(2, approveCancel.ID, func(r ports.ApprovalRequest) (ports.ApprovalRequest, error) { return Approve(r, bob, rule, "", now) })
		run(3, approveCancel.ID, func(r ports.ApprovalRequest) (ports.ApprovalRequest, error) { return Cancel(r, alice, rule, now) })
		wg.Wait()

		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: approve error %v, deny error %v; want exactly one to succeed", round, errs[0], errs[1])
		}
		for _, err := range errs[:2] {
			if err != nil && !errors.Is(err, ports.ErrInvalidTransition) {
				t.Fatalf("round %d: loser error = %v, want ErrInvalidTransition", round, err)
			}
		}
		got, err := store.GetRequest(context.Background(), approveCancel.ID)
		if err != nil || got.Status != ports.RequestCancelled || errs[3] != nil {
			t.Fatalf("round %d: approve vs cancel ended %+v (get %v, cancel %v), want cancelled", round, got, err, errs[3])
		}
		if errs[2] != nil && !errors.Is(errs[2], ports.ErrInvalidTransition) {
			t.Fatalf("round %d: approve after cancel error = %v", round, errs[2])
		}
	}
}

// The server's lookup honours only approvals the policy in force authorizes:
// a record written straight into the store by a non-approver, a self
// approval, an approver since removed from the policy, or an auto-approval
// the rule does not give all grant nothing.
func TestLookupHonoursOnlyAuthorizedApprovals(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	ctx := context.Background()
	forge := func(n int, approver ports.Identity) {
		r := create(t, store, clock, n, alice, "prod")
		r = approved(r, identityLabel(approver), "", clock.Now())
		r.ApproverARN = approver.ARN
		if _, err := store.UpdateRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		approver ports.Identity
		policy   func() (*policy.Policy, error)
		want     bool
	}{
		{"an approver", bob, testPolicyNow, true},
		{"an ARN-listed approver", carol, testPolicyNow, true},
		{"a non-approver writing to the store", mallory, testPolicyNow, false},
		{"the requester herself", alice, testPolicyNow, false},
		{"an auto-approval the rule does not give", ports.Identity{Name: AutoApproverPrefix + "prod-approvals"}, testPolicyNow, false},
		{"an approver removed from the policy", bob, func() (*policy.Policy, error) {
			return policy.Parse([]byte(strings.Replace(testPolicy, "alice, bob,", "alice,", 1)))
		}, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forge(100+i, tc.approver)
			_, err := NewLookup(store, tc.policy).ActiveApproval(ctx, alice, "prod", clock.Now())
			if got := err == nil; got != tc.want {
				t.Fatalf("honoured = %v (err %v), want %v", got, err, tc.want)
			}
			// Each case leaves its request approved; cancel it for the next.
			if _, err := decide(t, store, idN(100+i), func(r ports.ApprovalRequest) (ports.ApprovalRequest, error) {
				return Cancel(r, alice, testRule(t), clock.Now())
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
