package policy

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// doc joins lines into a YAML document so positions are easy to read off.
func doc(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// ruleA is a valid first rule (lines 1-4) that cases extend from line 5.
var ruleA = []string{`version: "1"`, "rules:", "  - name: a", "    effect: allow"}

func withRuleA(more ...string) string { return doc(append(append([]string{}, ruleA...), more...)...) }

type wantErr struct {
	line, col int
	contains  string
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []wantErr
	}{
		// Documents.
		{"empty document", "", []wantErr{{1, 1, "policy is empty"}}},
		{"only a comment", "# nothing yet\n", []wantErr{{1, 1, "policy is empty"}}},
		{"null document", "~\n", []wantErr{{1, 1, "policy is empty"}}},
		{"not a mapping", "- allow\n", []wantErr{{1, 1, "the policy must be a mapping, got a list"}}},
		{"yaml syntax error", doc(`version: "1"`, "rules: ["), []wantErr{{2, 0, "invalid YAML: did not find expected node content"}}},
		{"tab indentation on line 1", "\tversion: \"1\"\n", []wantErr{{1, 0, "invalid YAML: found character that cannot start any token"}}},
		{"unknown alias", withRuleA("    conditions:", "      users: [*bob]"), []wantErr{{6, 15, "alias *bob refers to no anchor"}}},
		{"multiple documents", withRuleA("---", `version: "1"`, "rules: []"), []wantErr{{5, 1, "a second YAML document"}}},
		{"trailing separator is a second document", doc(`version: "1"`, "rules: []", "---"), []wantErr{{3, 1, "a second YAML document"}}},

		// Top level.
		{"missing version", doc("rules: []"), []wantErr{{1, 1, `missing version: add version: "1"`}}},
		{"unsupported version", doc(`version: "2"`, "rules: []"), []wantErr{{1, 10, `unsupported version "2": this Sentinel reads version "1"`}}},
		{"empty version", doc("version:", "rules: []"), []wantErr{{1, 9, "version is empty"}}},
		{"missing rules", doc(`version: "1"`), []wantErr{{1, 1, "missing rules"}}},
		{"rules not a list", doc(`version: "1"`, "rules: {}"), []wantErr{{2, 8, "rules must be a list of rules"}}},
		{"unknown top-level field", doc(`version: "1"`, "rules: []", "extra: 1"), []wantErr{{3, 1, `unknown field "extra" in the policy: valid fields are version, rules`}}},
		{"duplicate key", doc(`version: "1"`, `version: "1"`, "rules: []"), []wantErr{{2, 1, `"version" is set twice in the policy (first at line 1)`}}},
		{"non-string key", doc(`version: "1"`, "rules: []", "[a]: 1"), []wantErr{{3, 1, "a key in the policy must be a plain name, got a list"}}},

		// Rules.
		{"rule not a mapping", doc(`version: "1"`, "rules:", "  - allow"), []wantErr{{3, 5, `rule 1 must be a mapping, got the value "allow"`}}},
		{"missing name", doc(`version: "1"`, "rules:", "  - effect: allow"), []wantErr{{3, 5, "rule 1 has no name"}}},
		{"empty name", doc(`version: "1"`, "rules:", `  - name: ""`, "    effect: allow"), []wantErr{{3, 11, "name is empty"}}},
		{"missing effect", doc(`version: "1"`, "rules:", "  - name: a"), []wantErr{{3, 5, "rule 1 has no effect: add effect: with one of allow, deny, require_approval, require_server, require_server_session"}}},
		{"unknown effect", doc(`version: "1"`, "rules:", "  - name: a", "    effect: alow"), []wantErr{{4, 13, `unknown effect "alow": use one of allow, deny, require_approval, require_server, require_server_session`}}},
		{"effect is case-sensitive", doc(`version: "1"`, "rules:", "  - name: a", "    effect: Allow"), []wantErr{{4, 13, `unknown effect "Allow"`}}},
		{"duplicate rule name", withRuleA("  - name: a", "    effect: deny"), []wantErr{{5, 11, `duplicate rule name "a" (first used at line 3)`}}},
		{"unknown rule field", withRuleA("    colour: red"), []wantErr{{5, 5, `unknown field "colour" in a rule: valid fields are name, effect, conditions, reason, max_server_duration`}}},
		{"misspelt rule field", withRuleA("    reasn: because"), []wantErr{{5, 5, `unknown field "reasn" in a rule: did you mean "reason"?`}}},
		{"condition outside conditions", withRuleA("    profiles: [prod]"), []wantErr{{5, 5, "profiles belongs under conditions:"}}},
		{"binary tag", withRuleA("    reason: !!binary aGVsbG8="), []wantErr{{5, 13, "reason must be plain text, not a !!binary value"}}},
		{"reason is a list", withRuleA("    reason: [a, b]"), []wantErr{{5, 13, "reason must be a single value, got a list"}}},

		// max_server_duration.
		{"bad duration", withRuleA("    max_server_duration: 1 hour"), []wantErr{{5, 26, `invalid max_server_duration "1 hour": use a Go duration such as "30m"`}}},
		{"duration without unit", withRuleA("    max_server_duration: 30"), []wantErr{{5, 26, `invalid max_server_duration "30"`}}},
		{"zero duration", withRuleA("    max_server_duration: 0s"), []wantErr{{5, 26, `max_server_duration must be positive, got "0s"`}}},
		{"negative duration", withRuleA("    max_server_duration: -5m"), []wantErr{{5, 26, `max_server_duration must be positive, got "-5m"`}}},

		// Conditions.
		{"null conditions", withRuleA("    conditions:"), []wantErr{{5, 16, "conditions is empty: remove it to match every request"}}},
		{"conditions is a list", withRuleA("    conditions: [prod]"), []wantErr{{5, 17, "conditions must be a mapping, got a list"}}},
		{"unknown condition", withRuleA("    conditions:", "      region: [eu-west-1]"), []wantErr{{6, 7, `unknown field "region" in conditions: valid fields are profiles, users, time, mode`}}},
		{"misspelt condition", withRuleA("    conditions:", "      profile: [prod]"), []wantErr{{6, 7, `did you mean "profiles"?`}}},
		{"days outside time", withRuleA("    conditions:", "      days: [monday]"), []wantErr{{6, 7, "days belongs under time:"}}},
		{"profiles as a scalar", withRuleA("    conditions:", "      profiles: prod"), []wantErr{{6, 17, "profiles must be a list: write profiles: [prod]"}}},
		{"null profiles", withRuleA("    conditions:", "      profiles:"), []wantErr{{6, 16, "profiles is empty: write profiles: [] to match anything"}}},
		{"empty user entry", withRuleA("    conditions:", `      users: [alice, ""]`), []wantErr{{6, 22, "an entry of users is empty"}}},
		{"upper-case ARN prefix", withRuleA("    conditions:", "      users: [ARN:aws:iam::123456789012:user/alice]"), []wantErr{{6, 15, `looks like an ARN: start it with lowercase "arn:"`}}},
		{"unknown mode", withRuleA("    conditions:", "      mode: [server, daemon]"), []wantErr{{6, 22, `unknown mode "daemon": use one of server, cli, credential_process`}}},
		{"mode is case-sensitive", withRuleA("    conditions:", "      mode: [CLI]"), []wantErr{{6, 14, `unknown mode "CLI"`}}},

		// Time.
		{"null time", withRuleA("    conditions:", "      time:"), []wantErr{{6, 12, "time is empty"}}},
		{"time without days or hours", withRuleA("    conditions:", "      time:", "        timezone: UTC"), []wantErr{{7, 9, "time needs days, hours or both"}}},
		{"unknown time field", withRuleA("    conditions:", "      time:", "        days: [monday]", "        zone: UTC"), []wantErr{{8, 9, `unknown field "zone" in time: valid fields are days, hours, timezone`}}},
		{"unknown day", withRuleA("    conditions:", "      time:", "        days: [monday, Funday]"), []wantErr{{7, 24, `unknown day "Funday": use the full English day name: monday, tuesday`}}},
		{"abbreviated day", withRuleA("    conditions:", "      time:", "        days: [mon]"), []wantErr{{7, 16, `unknown day "mon"`}}},
		{"unknown timezone", withRuleA("    conditions:", "      time:", "        days: [monday]", "        timezone: Mars/Base"), []wantErr{{8, 19, `unknown timezone "Mars/Base": use an IANA zone name`}}},
		{"Local timezone", withRuleA("    conditions:", "      time:", "        days: [monday]", "        timezone: Local"), []wantErr{{8, 19, `timezone "Local" depends on the machine`}}},
		{"empty timezone", withRuleA("    conditions:", "      time:", "        days: [monday]", `        timezone: ""`), []wantErr{{8, 19, "timezone is empty"}}},
		{"hour 25", withRuleA("    conditions:", "      time:", "        hours:", `          start: "25:00"`, `          end: "17:00"`), []wantErr{{8, 18, `invalid start "25:00": hours run 00-23 and minutes 00-59`}}},
		{"minute 60", withRuleA("    conditions:", "      time:", "        hours:", `          start: "09:00"`, `          end: "17:60"`), []wantErr{{9, 16, `invalid end "17:60": hours run 00-23`}}},
		{"24:00 is not midnight", withRuleA("    conditions:", "      time:", "        hours:", `          start: "18:00"`, `          end: "24:00"`), []wantErr{{9, 16, `invalid end "24:00"`}}},
		{"single-digit hour", withRuleA("    conditions:", "      time:", "        hours:", "          start: 9:00", `          end: "17:00"`), []wantErr{{8, 18, `invalid start "9:00": use 24-hour "HH:MM" with two digits each`}}},
		{"time with seconds", withRuleA("    conditions:", "      time:", "        hours:", `          start: "09:00:00"`, `          end: "17:00"`), []wantErr{{8, 18, `invalid start "09:00:00"`}}},
		{"start equals end", withRuleA("    conditions:", "      time:", "        hours:", `          start: "09:00"`, `          end: "09:00"`), []wantErr{{9, 16, "hours start and end are both 09:00, an empty window"}}},
		{"hours without end", withRuleA("    conditions:", "      time:", "        hours:", `          start: "09:00"`), []wantErr{{8, 11, "hours has no end"}}},
		{"unknown hours field", withRuleA("    conditions:", "      time:", "        hours:", `          start: "09:00"`, `          end: "17:00"`, `          to: "18:00"`), []wantErr{{10, 11, `unknown field "to" in hours: did you mean "end"?`}}},

		// Several problems at once are all reported, in file order.
		{"all problems reported", doc(`version: "3"`, "rules:", "  - name: a", "    effect: alow", "    conditions:", "      mode: [daemon]"),
			[]wantErr{{1, 10, "unsupported version"}, {4, 13, "unknown effect"}, {6, 14, "unknown mode"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol, err := Parse([]byte(tt.input))
			if err == nil {
				t.Fatalf("Parse succeeded (%d rules), want errors %v", len(pol.Rules), tt.want)
			}
			var list ParseErrors
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not ParseErrors: %v", err, err)
			}
			if len(list) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(list), len(tt.want), err)
			}
			for i, w := range tt.want {
				got := list[i]
				if got.Line != w.line || got.Column != w.col || !strings.Contains(got.Msg, w.contains) {
					t.Errorf("error %d = %d:%d %q, want %d:%d containing %q", i, got.Line, got.Column, got.Msg, w.line, w.col, w.contains)
				}
			}
			var first *ParseError
			if !errors.As(err, &first) || first != list[0] {
				t.Errorf("errors.As(*ParseError) = %v, want the first error %v", first, list[0])
			}
		})
	}
}

func TestParseErrorFormat(t *testing.T) {
	tests := []struct {
		err  *ParseError
		want string
	}{
		{&ParseError{Line: 7, Column: 13, Msg: `unknown effect "alow"`}, `line 7:13: unknown effect "alow"`},
		{&ParseError{Line: 2, Msg: "invalid YAML: x"}, "line 2: invalid YAML: x"},
		{&ParseError{Msg: "bare"}, "bare"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	list := ParseErrors{tests[0].err, tests[1].err}
	if got, want := list.Error(), "line 7:13: unknown effect \"alow\"\nline 2: invalid YAML: x"; got != want {
		t.Errorf("ParseErrors.Error() = %q, want %q", got, want)
	}
}

func TestParseValid(t *testing.T) {
	input := doc(
		`version: "1"`,
		"rules:",
		"  - name: night-ops",
		"    effect: require_server_session",
		"    reason: night shift",
		"    max_server_duration: 1h30m",
		"    conditions:",
		"      profiles: [prod, staging]",
		"      users: [alice, 'arn:aws:sts::123456789012:assumed-role/Admin/*']",
		"      mode: [server, cli]",
		"      time:",
		"        days: [Friday, SATURDAY, friday]",
		"        hours: {start: \"22:00\", end: \"06:00\"}",
		"        timezone: Europe/Berlin",
		"  - name: fallback",
		"    effect: deny",
		"  - name: numeric-name-ok",
		"    effect: allow",
		"    conditions: {profiles: [], users: [], mode: []}",
	)
	pol, err := Parse([]byte(input))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if pol.Version != "1" || len(pol.Rules) != 3 {
		t.Fatalf("got version %q and %d rules", pol.Version, len(pol.Rules))
	}
	r := pol.Rules[0]
	if r.Name != "night-ops" || r.Effect != EffectRequireServerSession || r.Reason != "night shift" || r.Line != 3 {
		t.Errorf("rule 0 header = %+v", r)
	}
	if r.MaxServerDuration != 90*time.Minute {
		t.Errorf("MaxServerDuration = %v, want 1h30m", r.MaxServerDuration)
	}
	c := r.Conditions
	if strings.Join(c.Profiles, ",") != "prod,staging" || len(c.Users) != 2 || c.Users[1] != "arn:aws:sts::123456789012:assumed-role/Admin/*" {
		t.Errorf("profiles/users = %v / %v", c.Profiles, c.Users)
	}
	if len(c.Modes) != 2 || c.Modes[0] != ModeServer || c.Modes[1] != ModeCLI {
		t.Errorf("modes = %v", c.Modes)
	}
	if c.Time == nil || c.Time.Hours == nil {
		t.Fatalf("time = %+v", c.Time)
	}
	// Day names are normalised and de-duplicated.
	if len(c.Time.Days) != 2 || c.Time.Days[0] != time.Friday || c.Time.Days[1] != time.Saturday {
		t.Errorf("days = %v, want [Friday Saturday]", c.Time.Days)
	}
	if c.Time.Hours.Start != 22*60 || c.Time.Hours.End != 6*60 || c.Time.Hours.Start.String() != "22:00" {
		t.Errorf("hours = %v-%v", c.Time.Hours.Start, c.Time.Hours.End)
	}
	if c.Time.Location == nil || c.Time.Location.String() != "Europe/Berlin" {
		t.Errorf("location = %v", c.Time.Location)
	}
	if pol.Rules[1].Line != 15 || pol.Rules[2].Conditions.Profiles == nil || len(pol.Rules[2].Conditions.Profiles) != 0 {
		t.Errorf("rules 1-2 = %+v %+v", pol.Rules[1], pol.Rules[2])
	}
}

func TestParseAcceptedSpellings(t *testing.T) {
	tests := []struct {
		name  string
		input string
	}{
		{"unquoted version", doc("version: 1", "rules: []")},
		{"explicit document start and end", doc("---", `version: "1"`, "rules: []", "...")},
		{"unquoted HH:MM", withRuleA("    conditions:", "      time:", "        hours: {start: 09:00, end: 17:00}")},
		{"midnight end", withRuleA("    conditions:", "      time:", `        hours: {start: "18:00", end: "00:00"}`)},
		{"days only", withRuleA("    conditions:", "      time:", "        days: [Sunday]", "        timezone: Asia/Tokyo")},
		{"aliases", doc(`version: "1"`, "rules:", "  - name: a", "    effect: allow", "    conditions: {profiles: &p [prod]}", "  - name: b", "    effect: deny", "    conditions: {profiles: *p}")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.input)); err != nil {
				t.Errorf("Parse: %v", err)
			}
		})
	}
}

func TestUnquotedARNInFlowList(t *testing.T) {
	pol := mustParse(t, withRuleA("    conditions:", "      users: [arn:aws:iam::*:user/bob, alice]"))
	if got := pol.Rules[0].Conditions.Users; len(got) != 2 || got[0] != "arn:aws:iam::*:user/bob" || got[1] != "alice" {
		t.Errorf("users = %q", got)
	}
}

func TestStarterPolicyParsesCleanly(t *testing.T) {
	data, err := os.ReadFile("testdata/starter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if w := pol.Lint(); len(w) != 0 {
		t.Errorf("starter policy has lint warnings: %v", w)
	}
	now := time.Date(2026, 5, 5, 3, 0, 0, 0, time.UTC)
	if d := pol.Evaluate(Request{Profile: "dev", Mode: ModeServer, Time: now}); !d.Allowed() || !d.AllowLongLivedPassThrough {
		t.Errorf("server mode request %+v: want allowed, opting in to the quick start's pass-through static keys", d)
	}
	if d := pol.Evaluate(Request{Profile: "dev", Mode: ModeCLI, Time: now}); d.Allowed() {
		t.Errorf("cli mode request allowed: %+v", d)
	}
	if d := pol.Evaluate(Request{Profile: "root", Mode: ModeServer, Time: now}); d.Allowed() || d.Rule != "deny-root-profile" {
		t.Errorf("root profile = %+v, want denied by deny-root-profile", d)
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{ModeServer, ModeCLI, ModeCredentialProcess, ModeConsole} {
		if got, err := ParseMode(string(m)); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	for _, bad := range []string{"", "Server", "credential-process", "daemon"} {
		_, err := ParseMode(bad)
		if err == nil || !strings.Contains(err.Error(), "use one of server, cli, credential_process, console") {
			t.Errorf("ParseMode(%q) error = %v, want the list of valid modes", bad, err)
		}
	}
}

// The hash names the exact bytes: Parse sets it, and any edit changes it.
func TestParseSetsTheHash(t *testing.T) {
	const src = "version: \"1\"\nrules:\n  - name: open\n    effect: allow\n"
	p, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if p.Hash != HashOf([]byte(src)) || !strings.HasPrefix(p.Hash, HashPrefix) || len(p.Hash) != len(HashPrefix)+16 {
		t.Fatalf("Hash = %q, want %q (sha256: and 16 hex digits)", p.Hash, HashOf([]byte(src)))
	}
	// sha256("") starts e3b0c44298fc1c14: a fixed vector, so the format cannot drift.
	if got := HashOf(nil); got != "sha256:e3b0c44298fc1c14" {
		t.Errorf("HashOf(nil) = %q", got)
	}
	q, err := Parse([]byte(src + "# a comment\n"))
	if err != nil {
		t.Fatal(err)
	}
	if q.Hash == p.Hash {
		t.Error("an edited file kept the same hash")
	}
}

// revoke_at_aws is the top-level default for server-revoke --at-aws.
func TestParseRevokeAtAWS(t *testing.T) {
	for src, want := range map[string]bool{
		"version: \"1\"\nrules: []\n":                       false,
		"version: \"1\"\nrules: []\nrevoke_at_aws: true\n":  true,
		"version: \"1\"\nrules: []\nrevoke_at_aws: false\n": false,
	} {
		p, err := Parse([]byte(src))
		if err != nil || p.RevokeAtAWS != want {
			t.Errorf("Parse(%q).RevokeAtAWS = %v, %v; want %v", src, p != nil && p.RevokeAtAWS, err, want)
		}
	}
	if _, err := Parse([]byte("version: \"1\"\nrules: []\nrevoke_at_aws: yes\n")); err == nil || !strings.Contains(err.Error(), "revoke_at_aws must be true or false") {
		t.Errorf("revoke_at_aws: yes: %v, want an error naming the field", err)
	}
}
