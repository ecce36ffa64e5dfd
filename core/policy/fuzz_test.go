package policy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// FuzzParse checks that Parse never panics and that whatever it accepts can
// be evaluated and linted, always ending in allow or deny.
func FuzzParse(f *testing.F) {
	f.Add([]byte(withRuleA()))
	f.Fuzz(func(t *testing.T, data []byte) {
		pol, err := Parse(data)
		if err != nil {
			if pol != nil {
				t.Fatalf("Parse returned a policy and an error: %v", err)
			}
			return
		}
		for _, w := range pol.Lint() {
			_ = w.String()
		}
		for _, r := range fuzzRequests(pol) {
			d := pol.Evaluate(r)
			if d.Effect != EffectAllow && d.Effect != EffectDeny {
				t.Fatalf("final effect %q for %+v", d.Effect, r)
			}
			if d.RuleIndex < -1 || d.RuleIndex >= len(pol.Rules) {
				t.Fatalf("rule index %d out of range", d.RuleIndex)
			}
			if d.RuleIndex == -1 && (d.Effect != EffectDeny || d.Reason != NoMatchReason) {
				t.Fatalf("no match but %+v", d)
			}
			if d.RuleIndex >= 0 && (d.Rule != pol.Rules[d.RuleIndex].Name || d.RuleEffect != pol.Rules[d.RuleIndex].Effect) {
				t.Fatalf("decision %+v does not name rule %d", d, d.RuleIndex)
			}
			if _, err := json.Marshal(d); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}

// fuzzRequests mixes fixed requests with ones built from the policy's own
// values, so rules other than catch-alls get matched too.
func fuzzRequests(pol *Policy) []Request {
	base := time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC)
	reqs := []Request{
		{Profile: "prod", Mode: ModeServer, SessionTracking: true, Time: base, Identity: ports.Identity{ARN: "arn:aws:sts::123456789012:assumed-role/Admin/alice", Name: "alice", Source: "sts"}},
		{Profile: "dev", Mode: ModeCLI, Time: base.Add(13 * time.Hour), Identity: ports.Identity{Name: "bob", Source: "os"}},
		{Mode: ModeCredentialProcess, Time: time.Time{}},
	}
	for i, rule := range pol.Rules {
		r := Request{Mode: ModeServer, SessionTracking: i%2 == 0, Time: base.Add(time.Duration(i) * 7 * time.Hour)}
		if len(rule.Conditions.Profiles) > 0 {
			r.Profile = rule.Conditions.Profiles[0]
		}
		if len(rule.Conditions.Users) > 0 {
			r.Identity = ports.Identity{Name: rule.Conditions.Users[0], ARN: rule.Conditions.Users[0]}
		}
		if len(rule.Conditions.Modes) > 0 {
			r.Mode = rule.Conditions.Modes[0]
		}
		reqs = append(reqs, r)
		if i == 8 {
			break
		}
	}
	return reqs
}
