package policy

import (
	"strings"
	"testing"
)

// rule renders one rule as YAML lines with an inline conditions mapping.
func rule(name string, effect Effect, conditions string) []string {
	lines := []string{"  - name: " + name, "    effect: " + string(effect)}
	if conditions != "" {
		lines = append(lines, "    conditions: "+conditions)
	}
	return lines
}

func policyOf(rules ...[]string) string {
	lines := []string{`version: "1"`, "rules:"}
	for _, r := range rules {
		lines = append(lines, r...)
	}
	return doc(lines...)
}

type wantWarning struct {
	rule     string
	contains string
}

func TestLintUnreachable(t *testing.T) {
	const never = "can never match"
	tests := []struct {
		name  string
		input string
		want  []wantWarning
	}{
		{"no conditions catches everything",
			policyOf(rule("all", EffectAllow, ""), rule("later", EffectDeny, "{profiles: [prod]}")),
			[]wantWarning{{"later", never + ": rule all (line 3)"}}},
		{"profiles superset",
			policyOf(rule("wide", EffectDeny, "{profiles: [prod, staging]}"), rule("narrow", EffectAllow, "{profiles: [prod]}")),
			[]wantWarning{{"narrow", never}}},
		{"every list a superset, time absent",
			policyOf(rule("wide", EffectDeny, "{profiles: [prod], users: [alice, bob], mode: [cli, server]}"),
				rule("narrow", EffectAllow, "{profiles: [prod], users: [bob], mode: [cli], time: {days: [monday]}}")),
			[]wantWarning{{"narrow", never}}},
		{"ARN glob covers a literal ARN",
			policyOf(rule("admins", EffectAllow, "{users: ['arn:aws:sts::123456789012:assumed-role/Admin/*']}"),
				rule("alice", EffectDeny, "{users: ['arn:aws:sts::123456789012:assumed-role/Admin/alice']}")),
			[]wantWarning{{"alice", never}}},
		{"ARN glob covers a narrower glob",
			policyOf(rule("account", EffectAllow, "{users: ['arn:aws:sts::123456789012:*']}"),
				rule("admins", EffectDeny, "{users: ['arn:aws:sts::123456789012:assumed-role/Admin/*']}")),
			[]wantWarning{{"admins", never}}},
		{"same time window",
			policyOf(rule("a1", EffectAllow, `{time: {days: [friday], hours: {start: "22:00", end: "06:00"}, timezone: Europe/Paris}}`),
				rule("a2", EffectRequireApproval, `{profiles: [prod], time: {days: [friday], hours: {start: "22:00", end: "06:00"}, timezone: Europe/Paris}}`)),
			[]wantWarning{{"a2", never}}},
		{"hours inside hours",
			policyOf(rule("day", EffectAllow, `{time: {hours: {start: "08:00", end: "18:00"}}}`),
				rule("core", EffectDeny, `{time: {days: [monday], hours: {start: "09:00", end: "17:00"}}}`)),
			[]wantWarning{{"core", never}}},
		{"whole days cover an overnight window and its next day",
			policyOf(rule("weekend", EffectAllow, "{time: {days: [friday, saturday]}}"),
				rule("friday-night", EffectDeny, `{time: {days: [friday], hours: {start: "22:00", end: "06:00"}}}`)),
			[]wantWarning{{"friday-night", never}}},
		{"reported once, for the first covering rule",
			policyOf(rule("x", EffectAllow, ""), rule("y", EffectAllow, ""), rule("z", EffectDeny, "")),
			[]wantWarning{{"y", never + ": rule x"}, {"z", never + ": rule x"}}},

		// Not certain, so no warning.
		{"disjoint profiles", policyOf(rule("prod", EffectAllow, "{profiles: [prod]}"), rule("dev", EffectRequireApproval, "{profiles: [dev]}")), nil},
		{"earlier is narrower", policyOf(rule("prod", EffectDeny, "{profiles: [prod]}"), rule("any", EffectAllow, "")), nil},
		{"later has no profiles while earlier has some",
			policyOf(rule("prod", EffectDeny, "{profiles: [prod]}"), rule("any-cli", EffectAllow, "{mode: [cli]}")), nil},
		{"different users", policyOf(rule("a", EffectAllow, "{users: [alice]}"), rule("b", EffectAllow, "{users: [alice, bob]}")), nil},
		{"name vs ARN is not comparable",
			policyOf(rule("n", EffectAllow, "{users: [alice]}"), rule("arn", EffectRequireApproval, "{users: ['arn:aws:iam::123456789012:user/alice']}")), nil},
		{"different mode", policyOf(rule("s", EffectAllow, "{mode: [server]}"), rule("c", EffectRequireApproval, "{mode: [cli]}")), nil},
		{"earlier has time, later has none",
			policyOf(rule("day", EffectAllow, "{time: {days: [monday]}}"), rule("always", EffectRequireApproval, "")), nil},
		{"different timezone",
			policyOf(rule("ny", EffectAllow, "{time: {days: [monday], timezone: America/New_York}}"),
				rule("utc", EffectRequireApproval, "{time: {days: [monday]}}")), nil},
		{"whole day does not cover an overnight window's next day",
			policyOf(rule("friday", EffectAllow, "{time: {days: [friday]}}"),
				rule("friday-night", EffectRequireApproval, `{time: {days: [friday], hours: {start: "22:00", end: "06:00"}}}`)), nil},
		{"overlapping hours",
			policyOf(rule("morning", EffectAllow, `{time: {hours: {start: "08:00", end: "12:00"}}}`),
				rule("midday", EffectRequireApproval, `{time: {hours: {start: "11:00", end: "13:00"}}}`)), nil},
	}
	runLint(t, tests)
}

func TestLintAllowShadowsDeny(t *testing.T) {
	const shadow = "covers every profile of this deny"
	tests := []struct {
		name  string
		input string
		want  []wantWarning
	}{
		{"same profiles, allow narrower by user",
			policyOf(rule("alice-prod", EffectAllow, "{profiles: [prod], users: [alice]}"), rule("deny-prod", EffectDeny, "{profiles: [prod]}")),
			[]wantWarning{{"deny-prod", shadow + ", so requests it matches are allowed before this deny is checked"}}},
		{"allow for every profile, in server mode",
			policyOf(rule("server", EffectAllow, "{mode: [server]}"), rule("deny-root", EffectDeny, "{profiles: [root]}")),
			[]wantWarning{{"deny-root", "allow rule server (line 3)"}}},
		{"allow profiles a superset",
			policyOf(rule("both", EffectAllow, "{profiles: [prod, dev], mode: [server]}"), rule("deny-dev", EffectDeny, "{profiles: [dev]}")),
			[]wantWarning{{"deny-dev", shadow}}},

		{"deny first", policyOf(rule("deny-prod-cli", EffectDeny, "{profiles: [prod], mode: [cli]}"), rule("allow-prod", EffectAllow, "{profiles: [prod]}")), nil},
		{"modes cannot overlap",
			policyOf(rule("allow-server", EffectAllow, "{mode: [server]}"), rule("deny-cli", EffectDeny, "{profiles: [prod], mode: [cli, credential_process]}")), nil},
		{"user names cannot overlap",
			policyOf(rule("alice", EffectAllow, "{users: [alice]}"), rule("deny-bob", EffectDeny, "{profiles: [prod], users: [bob]}")), nil},
		{"a name and an ARN may be the same caller",
			policyOf(rule("alice", EffectAllow, "{users: [alice]}"), rule("deny-arn", EffectDeny, "{users: ['arn:aws:iam::123456789012:user/bob']}")),
			[]wantWarning{{"deny-arn", shadow}}},
		{"different profiles", policyOf(rule("allow-dev", EffectAllow, "{profiles: [dev]}"), rule("deny-prod", EffectDeny, "{profiles: [prod]}")), nil},
		{"deny covers more profiles",
			policyOf(rule("allow-prod", EffectAllow, "{profiles: [prod]}"), rule("deny-all", EffectDeny, "{mode: [cli]}")), nil},
		{"deny profiles only partly covered",
			policyOf(rule("allow-prod", EffectAllow, "{profiles: [prod]}"), rule("deny-two", EffectDeny, "{profiles: [prod, dev]}")), nil},
		{"not an allow",
			policyOf(rule("srv", EffectRequireServer, "{profiles: [prod], mode: [cli]}"), rule("deny-prod", EffectDeny, "{profiles: [prod]}")), nil},
		{"not a deny",
			policyOf(rule("allow-prod", EffectAllow, "{profiles: [prod], users: [alice]}"), rule("approve", EffectRequireApproval, "{profiles: [prod]}")), nil},
	}
	runLint(t, tests)
}

func TestLintOther(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []wantWarning
	}{
		{"no rules", doc(`version: "1"`, "rules: []"), []wantWarning{{"", "no rules, so every request is denied"}}},
		{"duration on a deny",
			doc(`version: "1"`, "rules:", "  - name: d", "    effect: deny", "    max_server_duration: 1h"),
			[]wantWarning{{"d", "max_server_duration has no effect on a deny rule"}}},
		{"duration on an allow is fine",
			doc(`version: "1"`, "rules:", "  - name: a", "    effect: allow", "    max_server_duration: 1h"), nil},
		{"pass-through opt-in without a cap",
			doc(`version: "1"`, "rules:", "  - name: a", "    effect: allow", "    allow_long_lived_passthrough: true"),
			[]wantWarning{{"a", "allow_long_lived_passthrough has no effect without max_server_duration"}}},
		{"pass-through opt-in with a cap is fine",
			doc(`version: "1"`, "rules:", "  - name: a", "    effect: allow", "    max_server_duration: 1h", "    allow_long_lived_passthrough: true"), nil},
		{"star in a profile", policyOf(rule("p", EffectAllow, "{profiles: ['prod-*']}")), []wantWarning{{"p", `profile "prod-*": '*' is not a wildcard`}}},
		{"star in a user name", policyOf(rule("u", EffectAllow, "{users: ['ali*']}")), []wantWarning{{"u", `user "ali*": '*' is a wildcard only in entries that start with "arn:"`}}},
		{"star in an ARN is fine", policyOf(rule("u", EffectAllow, "{users: ['arn:aws:iam::*:user/alice']}")), nil},
	}
	runLint(t, tests)
}

func runLint(t *testing.T, tests []struct {
	name  string
	input string
	want  []wantWarning
}) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := mustParse(t, tt.input)
			got := pol.Lint()
			if len(got) != len(tt.want) {
				t.Fatalf("got %d warnings, want %d: %v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				if got[i].Rule != w.rule || !strings.Contains(got[i].Message, w.contains) {
					t.Errorf("warning %d = %v, want rule %q containing %q", i, got[i], w.rule, w.contains)
				}
				if w.rule != "" && got[i].Line != ruleLine(pol, w.rule) {
					t.Errorf("warning %d line = %d, want the rule's line %d", i, got[i].Line, ruleLine(pol, w.rule))
				}
			}
		})
	}
}

func ruleLine(pol *Policy, name string) int {
	for _, r := range pol.Rules {
		if r.Name == name {
			return r.Line
		}
	}
	return -1
}

func TestWarningString(t *testing.T) {
	tests := []struct {
		w    Warning
		want string
	}{
		{Warning{Rule: "late", Line: 9, Message: "can never match"}, "line 9: rule late: can never match"},
		{Warning{Line: 2, Message: "the policy has no rules"}, "line 2: the policy has no rules"},
	}
	for _, tt := range tests {
		if got := tt.w.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	pol := mustParse(t, doc(`version: "1"`, "rules: []"))
	if w := pol.Lint(); len(w) != 1 || w[0].Line != 2 {
		t.Errorf("no-rules warning = %v, want it on line 2", w)
	}
}
