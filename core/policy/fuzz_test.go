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
		checkOverrideLookups(t, pol)
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

// checkOverrideLookups asks the approval and break-glass lookups about the
// policy's own names and checks that what they return is consistent.
func checkOverrideLookups(t *testing.T, pol *Policy) {
	t.Helper()
	now := time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	for _, r := range pol.Approvals {
		if len(r.Approvers) == 0 {
			t.Fatalf("approval rule %q parsed with no approvers", r.Name)
		}
		for _, profile := range append([]string{"prod"}, r.Profiles...) {
			if got, ok := pol.ApprovalRuleFor(profile); ok && !got.Covers(profile) {
				t.Fatalf("ApprovalRuleFor(%q) returned %q, which does not cover it", profile, got.Name)
			}
		}
		id := ports.Identity{Name: r.Approvers[0], ARN: r.Approvers[0]}
		_ = r.IsApprover(id)
		if r.AutoApproves(id, now, 0) {
			t.Fatalf("rule %q auto-approves a zero duration", r.Name)
		}
		if r.AutoApprove != nil && r.AutoApproves(id, now, r.AutoApprove.MaxDuration+time.Nanosecond) {
			t.Fatalf("rule %q auto-approves past its max_duration", r.Name)
		}
	}
	for _, r := range pol.BreakGlass {
		if len(r.Users) == 0 || len(r.ReasonCodes) == 0 || r.MaxDuration <= 0 || r.MaxDuration > MaxBreakGlassDuration || r.Window <= 0 {
			t.Fatalf("break-glass rule parsed out of bounds: %+v", r)
		}
		id := ports.Identity{Name: r.Users[0], ARN: r.Users[0]}
		for _, profile := range append([]string{"prod"}, r.Profiles...) {
			if got, ok := pol.BreakGlassRuleFor(id, profile); ok && !got.Allows(id, profile) {
				t.Fatalf("BreakGlassRuleFor returned %q, which does not allow %+v on %q", got.Name, id, profile)
			}
		}
	}
	for _, w := range pol.Webhooks {
		if w.URL == "" || w.SecretEnv == "" || w.Timeout <= 0 || w.Timeout > MaxWebhookTimeout {
			t.Fatalf("webhook parsed out of bounds: %+v", w)
		}
	}
}
