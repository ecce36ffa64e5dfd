package policy

import (
	"testing"
	"time"
)

// A rule can name the console mode, and only a console request matches it.
func TestConsoleModeCondition(t *testing.T) {
	pol, err := Parse([]byte(`version: "1"
rules:
  - name: console-for-ops
    effect: allow
    max_server_duration: 20m
    conditions:
      profiles: [prod]
      mode: [console]
  - name: deny-rest
    effect: deny
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := pol.Rules[0].Conditions.Modes; len(got) != 1 || got[0] != ModeConsole {
		t.Fatalf("modes = %v, want [console]", got)
	}
	now := time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	d := pol.Evaluate(Request{Profile: "prod", Mode: ModeConsole, Time: now})
	if !d.Allowed() || d.Rule != "console-for-ops" || d.MaxServerDuration != 20*time.Minute {
		t.Errorf("console request = %+v, want allowed by console-for-ops with its 20m cap", d)
	}
	for _, m := range []Mode{ModeCLI, ModeServer, ModeCredentialProcess} {
		if d := pol.Evaluate(Request{Profile: "prod", Mode: m, Time: now}); d.Allowed() || d.Rule != "deny-rest" {
			t.Errorf("%s request = %+v, want denied by deny-rest", m, d)
		}
	}
}
