package approval

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// t0 is a Monday, 09:00 UTC.
var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const testID = "0123456789abcdef0123456789abcdef"

const justification = "deploy the hotfix for ticket 4711"

var (
	alice   = ports.Identity{Name: "alice", Source: "os"}
	bob     = ports.Identity{Name: "bob", Source: "os"}
	carol   = ports.Identity{ARN: "arn:aws:iam::111122223333:user/carol", Name: "carol", Source: "sts"}
	mallory = ports.Identity{ARN: "arn:aws:iam::111122223333:user/mallory", Name: "mallory", Source: "sts"}
	dave    = ports.Identity{Name: "dave", Source: "os"}
)

// testPolicy has one approval rule for prod in which alice is an approver
// too, so self-approval is refused by that rule and not by a missing entry.
const testPolicy = `version: "1"
rules:
  - name: prod
    effect: require_approval
    conditions:
      profiles: [prod]
approvals:
  - name: prod-approvals
    profiles: [prod]
    approvers: [alice, bob, "arn:aws:iam::111122223333:user/carol"]
    auto_approve:
      users: [dave]
      max_duration: 1h
      time:
        days: [monday]
        hours: {start: "08:00", end: "18:00"}
`

// testPolicyNow is the policy current for lookups: testPolicy, parsed once.
func testPolicyNow() (*policy.Policy, error) { return policy.Parse([]byte(testPolicy)) }

func testRule(t testing.TB) *policy.ApprovalRule {
	t.Helper()
	pol, err := policy.Parse([]byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := pol.ApprovalRuleFor("prod")
	if !ok {
		t.Fatal("no approval rule for prod")
	}
	return r
}

// pending is alice's fresh request for prod, one hour long, created at t0.
func pending(t testing.TB) ports.ApprovalRequest {
	t.Helper()
	r, _, err := NewRequest(testID, alice, "prod", justification, time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// requestIn returns the pending request moved into one of the states the
// state machine must tell apart, as a store would hold it.
func requestIn(t testing.TB, state string) ports.ApprovalRequest {
	t.Helper()
	r := pending(t)
	switch state {
	case "approved":
		r.Status, r.Approver, r.ApprovedAt, r.ExpiresAt = ports.RequestApproved, "bob", t0.Add(time.Hour), t0.Add(2*time.Hour)
	case "denied":
		r.Status, r.Approver = ports.RequestDenied, "bob"
	case "cancelled":
		r.Status = ports.RequestCancelled
	case "expired":
		r.Status = ports.RequestExpired
	case "lapsed": // stored pending, decision deadline passed
		r.ExpiresAt = t0.Add(time.Minute)
	case "lapsed-approved": // stored approved, window over
		r.Status, r.Approver, r.ApprovedAt, r.ExpiresAt = ports.RequestApproved, "bob", t0, t0.Add(time.Minute)
	case "unknown":
		r.Status = "paused"
	}
	return r
}

func wantError(t *testing.T, err, want error, contains string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) || !strings.Contains(err.Error(), contains) {
		t.Fatalf("error = %v, want %v containing %q", err, want, contains)
	}
}

// newStore returns the reference store on a fake clock at t0.
func newStore(t *testing.T) (*memory.Store, *ports.FakeClock) {
	t.Helper()
	clock := ports.NewFakeClock(t0)
	store := memory.New(clock)
	t.Cleanup(func() { _ = store.Close() })
	return store, clock
}

// hookStore wraps a real store and runs beforeUpdate ahead of every update,
// as a concurrent writer would, or fails listings.
type hookStore struct {
	ports.ApprovalStore
	mu           sync.Mutex
	beforeUpdate func(ctx context.Context, inner ports.ApprovalStore)
	listErr      error
	listed       int
}

func (h *hookStore) UpdateRequest(ctx context.Context, r ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	h.mu.Lock()
	hook := h.beforeUpdate
	h.mu.Unlock()
	if hook != nil {
		hook(ctx, h.ApprovalStore)
	}
	return h.ApprovalStore.UpdateRequest(ctx, r)
}

func (h *hookStore) ListRequestsByRequester(ctx context.Context, requester string, p ports.Page) (ports.RequestPage, error) {
	h.mu.Lock()
	h.listed++
	err := h.listErr
	h.mu.Unlock()
	if err != nil {
		return ports.RequestPage{}, err
	}
	return h.ApprovalStore.ListRequestsByRequester(ctx, requester, p)
}
