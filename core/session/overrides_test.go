package session

import (
	"testing"
	"time"
)

func TestApplyOverrides(t *testing.T) {
	t.Parallel()
	now := t0
	approval := Override{Kind: OverrideApproval, ID: "apr-1", ExpiresAt: now.Add(time.Hour)}
	breakGlass := Override{Kind: OverrideBreakGlass, ID: "bg-1", ExpiresAt: now.Add(10 * time.Minute)}
	expiredApproval := Override{Kind: OverrideApproval, ID: "apr-old", ExpiresAt: now}
	noExpiry := Override{Kind: OverrideApproval, ID: "apr-zero"}
	noID := Override{Kind: OverrideApproval, ExpiresAt: now.Add(time.Hour)}
	unknownKind := Override{Kind: "exception", ID: "x-1", ExpiresAt: now.Add(time.Hour)}

	tests := []struct {
		name      string
		gate      Gate
		overrides []Override
		allowed   bool
		applied   string // Label of the applied override
	}{
		{"allow stays allow", Gate{"allow", true}, []Override{approval}, true, ""},
		{"allow without overrides", Gate{"allow", true}, nil, true, ""},
		{"deny without overrides", Gate{"deny", false}, nil, false, ""},
		{"approval lifts deny", Gate{"deny", false}, []Override{approval}, true, "approval:apr-1"},
		{"approval lifts require_approval", Gate{"require_approval", false}, []Override{approval}, true, "approval:apr-1"},
		{"break-glass lifts deny", Gate{"deny", false}, []Override{breakGlass}, true, "breakglass:bg-1"},
		{"break-glass lifts require_approval", Gate{"require_approval", false}, []Override{breakGlass}, true, "breakglass:bg-1"},
		{"approval preferred to break-glass", Gate{"deny", false}, []Override{breakGlass, approval}, true, "approval:apr-1"},
		{"approval never lifts require_server", Gate{"require_server", false}, []Override{approval}, false, ""},
		{"break-glass never lifts require_server", Gate{"require_server", false}, []Override{breakGlass}, false, ""},
		{"approval never lifts require_server_session", Gate{"require_server_session", false}, []Override{approval}, false, ""},
		{"break-glass never lifts require_server_session", Gate{"require_server_session", false}, []Override{approval, breakGlass}, false, ""},
		{"default deny (no rule) is not lifted", Gate{"", false}, []Override{approval, breakGlass}, false, ""},
		{"unknown effect is not lifted", Gate{"quarantine", false}, []Override{approval}, false, ""},
		{"expired approval ignored", Gate{"deny", false}, []Override{expiredApproval}, false, ""},
		{"zero expiry ignored", Gate{"deny", false}, []Override{noExpiry}, false, ""},
		{"missing id ignored", Gate{"deny", false}, []Override{noID}, false, ""},
		{"unknown kind ignored", Gate{"deny", false}, []Override{unknownKind}, false, ""},
		{"falls through to a usable one", Gate{"deny", false}, []Override{expiredApproval, noID, breakGlass}, true, "breakglass:bg-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ApplyOverrides(tt.gate, tt.overrides, now)
			if got.Allowed != tt.allowed || got.Applied.Label() != tt.applied {
				t.Fatalf("ApplyOverrides = %+v (label %q), want allowed=%v applied %q",
					got, got.Applied.Label(), tt.allowed, tt.applied)
			}
			if got.BreakGlassApplies() != (got.Applied.Kind == OverrideBreakGlass) {
				t.Fatalf("BreakGlassApplies disagrees with %+v", got.Applied)
			}
		})
	}
}

func TestOverridable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		gate Gate
		want bool
	}{
		{Gate{"deny", false}, true},
		{Gate{"require_approval", false}, true},
		{Gate{"require_server", false}, false},
		{Gate{"require_server_session", false}, false},
		{Gate{"", false}, false},
		{Gate{"allow", true}, false},
		{Gate{"deny", true}, false}, // already allowed: nothing to lift
	}
	for _, tt := range tests {
		if got := Overridable(tt.gate); got != tt.want {
			t.Errorf("Overridable(%+v) = %v, want %v", tt.gate, got, tt.want)
		}
	}
}
