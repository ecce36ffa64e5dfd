package gateway

import (
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
)

func TestApplyOverrides(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	approval := override{kind: overrideApproval, id: "apr-1", expiresAt: now.Add(time.Hour)}
	breakGlass := override{kind: overrideBreakGlass, id: "bg-1", expiresAt: now.Add(10 * time.Minute)}
	expiredApproval := override{kind: overrideApproval, id: "apr-old", expiresAt: now}
	noExpiry := override{kind: overrideApproval, id: "apr-zero"}
	noID := override{kind: overrideApproval, expiresAt: now.Add(time.Hour)}
	unknownKind := override{kind: "exception", id: "x-1", expiresAt: now.Add(time.Hour)}

	deny := gate{policy.EffectDeny, false}
	requireApproval := gate{policy.EffectRequireApproval, false}
	requireServer := gate{policy.EffectRequireServer, false}
	requireServerSession := gate{policy.EffectRequireServerSession, false}
	tests := []struct {
		name      string
		gate      gate
		overrides []override
		allowed   bool
		applied   string // label of the applied override
	}{
		{"allow stays allow", gate{policy.EffectAllow, true}, []override{approval}, true, ""},
		{"allow without overrides", gate{policy.EffectAllow, true}, nil, true, ""},
		{"deny without overrides", deny, nil, false, ""},
		{"approval lifts deny", deny, []override{approval}, true, "approval:apr-1"},
		{"approval lifts require_approval", requireApproval, []override{approval}, true, "approval:apr-1"},
		{"break-glass lifts deny", deny, []override{breakGlass}, true, "breakglass:bg-1"},
		{"break-glass lifts require_approval", requireApproval, []override{breakGlass}, true, "breakglass:bg-1"},
		{"approval preferred to break-glass", deny, []override{breakGlass, approval}, true, "approval:apr-1"},
		{"approval never lifts require_server", requireServer, []override{approval}, false, ""},
		{"break-glass never lifts require_server", requireServer, []override{breakGlass}, false, ""},
		{"approval never lifts require_server_session", requireServerSession, []override{approval}, false, ""},
		{"break-glass never lifts require_server_session", requireServerSession, []override{approval, breakGlass}, false, ""},
		{"default deny (no rule) is not lifted", gate{"", false}, []override{approval, breakGlass}, false, ""},
		{"unknown effect is not lifted", gate{"quarantine", false}, []override{approval}, false, ""},
		{"expired approval ignored", deny, []override{expiredApproval}, false, ""},
		{"zero expiry ignored", deny, []override{noExpiry}, false, ""},
		{"missing id ignored", deny, []override{noID}, false, ""},
		{"unknown kind ignored", deny, []override{unknownKind}, false, ""},
		{"falls through to a usable one", deny, []override{expiredApproval, noID, breakGlass}, true, "breakglass:bg-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := applyOverrides(tt.gate, tt.overrides, now)
			if got.allowed != tt.allowed || got.applied.label() != tt.applied {
				t.Fatalf("applyOverrides = %+v (label %q), want allowed=%v applied %q",
					got, got.applied.label(), tt.allowed, tt.applied)
			}
			if got.windowApplies() != (tt.applied != "") {
				t.Fatalf("windowApplies() = %v with %q applied", got.windowApplies(), tt.applied)
			}
		})
	}
}

func TestOverridable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		gate gate
		want bool
	}{
		{gate{policy.EffectDeny, false}, true},
		{gate{policy.EffectRequireApproval, false}, true},
		{gate{policy.EffectRequireServer, false}, false},
		{gate{policy.EffectRequireServerSession, false}, false},
		{gate{"", false}, false},
		{gate{policy.EffectAllow, true}, false},
		{gate{policy.EffectDeny, true}, false}, // already allowed: nothing to lift
	}
	for _, tt := range tests {
		if got := overridable(tt.gate); got != tt.want {
			t.Errorf("overridable(%+v) = %v, want %v", tt.gate, got, tt.want)
		}
	}
}

// TestGateOfPolicyDecisions feeds overridable the decisions the policy
// itself makes, one rule per effect, so the override logic and the policy
// agree on effect names by construction (a rename in core/policy fails here).
func TestGateOfPolicyDecisions(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse([]byte(`version: "1"
rules:
  - {name: r-allow, effect: allow, conditions: {profiles: [allow]}}
  - {name: r-deny, effect: deny, conditions: {profiles: [deny]}}
  - {name: r-approval, effect: require_approval, conditions: {profiles: [approval]}}
  - {name: r-server, effect: require_server, conditions: {profiles: [server]}}
  - {name: r-session, effect: require_server_session, conditions: {profiles: [session]}}
`))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	tests := []struct {
		profile    string
		ruleEffect policy.Effect
		want       bool
	}{
		{"allow", policy.EffectAllow, false},
		{"deny", policy.EffectDeny, true},
		{"approval", policy.EffectRequireApproval, true},
		{"server", policy.EffectRequireServer, false},
		{"session", policy.EffectRequireServerSession, false},
		{"no-rule", "", false},
	}
	for _, tt := range tests {
		d := p.Evaluate(policy.Request{Profile: tt.profile, Mode: policy.ModeCLI, Time: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)})
		g := gateOf(d)
		if g.ruleEffect != tt.ruleEffect {
			t.Errorf("profile %s: gate effect %q, want %q", tt.profile, g.ruleEffect, tt.ruleEffect)
		}
		if got := overridable(g); got != tt.want {
			t.Errorf("profile %s: overridable(%+v) = %v, want %v", tt.profile, g, got, tt.want)
		}
	}
}
