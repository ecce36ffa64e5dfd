package breakglass

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const testID = "0123456789abcdef0123456789abcdef"

const justification = "database primary is down, failing over by hand"

var (
	alice   = ports.Identity{Name: "alice", Source: "os"}
	bob     = ports.Identity{Name: "bob", Source: "os"}
	mallory = ports.Identity{Name: "mallory", Source: "os"}
)

// testPolicy is the reference doc's break-glass rule, with a second profile
// so per-user counting across the rule's profiles is visible.
const testPolicy = `version: "1"
rules:
  - name: deny-prod
    effect: deny
    conditions:
      profiles: [prod, prod-eu]
breakglass:
  - name: prod-emergency
    profiles: [prod, prod-eu]
    users: [alice, bob]
    reason_codes: [incident, security]
    max_duration: 2h
    cooldown: 30m
    max_per_user: 3
    max_per_profile: 10
    window: 24h
    escalation_threshold: 2
  - name: anything-for-ops
    users: [ops]
`

// testPolicyNow is the policy current for lookups.
func testPolicyNow() (*policy.Policy, error) { return policy.Parse([]byte(testPolicy)) }

func testPolicyParsed(t testing.TB) *policy.Policy {
	t.Helper()
	pol, err := policy.Parse([]byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// testRule is prod-emergency, as the policy hands it to alice for prod.
func testRule(t testing.TB) *policy.BreakGlassRule {
	t.Helper()
	r, ok := testPolicyParsed(t).BreakGlassRuleFor(alice, "prod")
	if !ok || r.Name != "prod-emergency" {
		t.Fatalf("rule for alice on prod = %+v", r)
	}
	return r
}

func idN(n int) string { return fmt.Sprintf("%032x", n) }

// past is an event of invoker for profile that started ago before now and
// was closed after ten minutes.
func past(n int, invoker, profile string, now time.Time, ago time.Duration) ports.BreakGlassEvent {
	start := now.Add(-ago)
	return ports.BreakGlassEvent{
		ID: idN(n), Invoker: invoker, Profile: profile, ReasonCode: ReasonIncident, Justification: justification,
		Duration: time.Hour, Status: ports.BreakGlassClosed, CreatedAt: start, UpdatedAt: start.Add(10 * time.Minute),
		ExpiresAt: start.Add(time.Hour), ClosedBy: invoker, ClosedReason: "done", Version: 2,
	}
}

// active is alice's event for prod, started at t0 for an hour.
func active() ports.BreakGlassEvent {
	return ports.BreakGlassEvent{
		ID: testID, Invoker: "alice", Profile: "prod", ReasonCode: ReasonIncident, Justification: justification,
		Duration: time.Hour, Status: ports.BreakGlassActive, CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(time.Hour), Version: 1,
	}
}

func wantError(t *testing.T, err error, want []error, contains string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Fatalf("error = %v, want it to wrap %v", err, w)
		}
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("error = %v, want it to contain %q", err, contains)
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
