package policy

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDecisionJSON(t *testing.T) {
	tests := []struct {
		name string
		d    Decision
		want string
	}{
		{
			"default deny",
			Decision{Effect: EffectDeny, RuleIndex: -1, Reason: NoMatchReason},
			`{"effect":"deny","rule_effect":"","rule":"","rule_index":-1,"reason":"no matching rule","max_server_duration":"","requires_server_mode":false,"requires_session_tracking":false,"requires_approval":false,"requires_session_store":"","allow_long_lived_passthrough":false}`,
		},
		{
			"allow with a cap",
			Decision{Effect: EffectAllow, RuleEffect: EffectRequireServer, Rule: "prod", RuleIndex: 2, Reason: "ok", MaxServerDuration: 30 * time.Minute},
			`{"effect":"allow","rule_effect":"require_server","rule":"prod","rule_index":2,"reason":"ok","max_server_duration":"30m0s","requires_server_mode":false,"requires_session_tracking":false,"requires_approval":false,"requires_session_store":"","allow_long_lived_passthrough":false}`,
		},
		{
			"deny with every flag",
			Decision{Effect: EffectDeny, RuleEffect: EffectRequireServerSession, Rule: "r", Reason: "x", MaxServerDuration: 90 * time.Second,
				RequiresServerMode: true, RequiresSessionTracking: true, RequiresApproval: true,
				RequiresSessionStore: "dynamodb://sessions", AllowLongLivedPassThrough: true},
			`{"effect":"deny","rule_effect":"require_server_session","rule":"r","rule_index":0,"reason":"x","max_server_duration":"1m30s","requires_server_mode":true,"requires_session_tracking":true,"requires_approval":true,"requires_session_store":"dynamodb://sessions","allow_long_lived_passthrough":true}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal =\n%s\nwant\n%s", got, tt.want)
			}
			// A pointer marshals the same way.
			if viaPtr, _ := json.Marshal(&tt.d); string(viaPtr) != tt.want {
				t.Errorf("Marshal(&d) = %s", viaPtr)
			}
			var back Decision
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if back != tt.d {
				t.Errorf("round trip = %+v, want %+v", back, tt.d)
			}
		})
	}

	var d Decision
	if err := json.Unmarshal([]byte(`{"max_server_duration":"soon"}`), &d); err == nil {
		t.Error("Unmarshal accepted a bad duration")
	}
}
