package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// withSection is a valid policy (lines 1-4) followed by more lines from line 5.
func withSection(more ...string) string {
	return doc(append([]string{`version: "1"`, "rules:", "  - name: a", "    effect: allow"}, more...)...)
}

// approvalA is a valid approvals section whose first rule spans lines 5-8.
var approvalA = []string{"approvals:", "  - name: pa", "    profiles: [prod]", "    approvers: [bob]"}

// breakGlassA is a valid breakglass section whose first rule spans lines 5-8.
var breakGlassA = []string{"breakglass:", "  - name: bg", "    profiles: [prod]", "    users: [alice]"}

func withApprovalA(more ...string) string {
	return withSection(append(slices.Clone(approvalA), more...)...)
}
func withBreakGlassA(more ...string) string {
	return withSection(append(slices.Clone(breakGlassA), more...)...)
}

// webhookA is a valid notifications section whose first webhook spans lines 6-8.
var webhookA = []string{"notifications:", "  webhooks:", "    - name: w", "      url: https://hooks.example.com/x", "      secret_env: HOOK_SECRET"}

func withWebhookA(more ...string) string {
	return withSection(append(slices.Clone(webhookA), more...)...)
}

func TestParseOverrideErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []wantErr
	}{
		// Sections.
		{"null approvals", withSection("approvals:"), []wantErr{{5, 11, "approvals is empty: remove it, or list approval rules"}}},
		{"approvals is a mapping", withSection("approvals: {name: x}"), []wantErr{{5, 12, "approvals must be a list of approval rules (each starting with '- name:'), got a mapping"}}},
		{"null breakglass", withSection("breakglass:"), []wantErr{{5, 12, "breakglass is empty"}}},
		{"misspelt section", withSection("break_glass: []"), []wantErr{{5, 1, `unknown field "break_glass" in the policy: did you mean "breakglass"?`}}},
		{"webhooks at the top", withSection("webhooks: []"), []wantErr{{5, 1, "webhooks belongs under notifications:"}}},
		{"approval entry not a mapping", withSection("approvals:", "  - bob"), []wantErr{{6, 5, `approval rule 1 must be a mapping, got the value "bob"`}}},

		// Approval rules.
		{"approval without name", withSection("approvals:", "  - approvers: [bob]"), []wantErr{{6, 5, "approval rule 1 has no name: add name:"}}},
		{"duplicate approval name", withApprovalA("  - name: pa", "    approvers: [carol]"), []wantErr{{9, 11, `duplicate approval rule name "pa" (first used at line 6): names in approvals must be unique`}}},
		{"approval name may repeat a rule name", withSection("approvals:", "  - name: a", "    approvers: [bob]"), nil},
		{"no approvers", withSection("approvals:", "  - name: pa", "    profiles: [prod]"), []wantErr{{6, 5, "approval rule 1 has no approvers: list who may approve"}}},
		{"null approvers", withSection("approvals:", "  - name: pa", "    approvers:"), []wantErr{{7, 15, "approvers is empty: list who may approve"}}},
		{"empty approvers", withSection("approvals:", "  - name: pa", "    approvers: []"), []wantErr{{7, 16, "approvers is an empty list: list who may approve (names or arn: patterns); a rule nobody can satisfy"}}},
		{"approvers as a scalar", withSection("approvals:", "  - name: pa", "    approvers: bob"), []wantErr{{7, 16, "approvers must be a list: write approvers: [bob]"}}},
		{"upper-case ARN approver", withSection("approvals:", "  - name: pa", "    approvers: [ARN:aws:iam::1:user/x]"), []wantErr{{7, 17, `approver "ARN:aws:iam::1:user/x" looks like an ARN`}}},
		{"unknown approval field", withApprovalA("    colour: red"), []wantErr{{9, 5, `unknown field "colour" in an approval rule: valid fields are name, profiles, approvers, auto_approve`}}},
		{"misspelt approvers", withSection("approvals:", "  - name: pa", "    approver: [bob]"), []wantErr{{6, 5, "has no approvers"}, {7, 5, `did you mean "approvers"?`}}},
		{"users outside auto_approve", withApprovalA("    users: [dave]"), []wantErr{{9, 5, "users belongs under auto_approve:"}}},
		{"null profiles", withSection("approvals:", "  - name: pa", "    profiles:", "    approvers: [bob]"), []wantErr{{7, 14, "profiles is empty: write profiles: [] to match anything"}}},

		// auto_approve.
		{"null auto_approve", withApprovalA("    auto_approve:"), []wantErr{{9, 18, "auto_approve is empty"}}},
		{"auto_approve without users", withApprovalA("    auto_approve:", "      max_duration: 1h"), []wantErr{{10, 7, "auto_approve has no users: list whose requests are approved without a person"}}},
		{"auto_approve with empty users", withApprovalA("    auto_approve:", "      users: []", "      max_duration: 1h"), []wantErr{{10, 14, "users is an empty list"}}},
		{"auto_approve without max_duration", withApprovalA("    auto_approve:", "      users: [dave]"), []wantErr{{10, 7, "auto_approve has no max_duration"}}},
		{"auto_approve over 8h", withApprovalA("    auto_approve:", "      users: [dave]", "      max_duration: 9h"), []wantErr{{11, 21, "max_duration 9h is longer than 8h, the longest an approved request can last"}}},
		{"auto_approve bad duration", withApprovalA("    auto_approve:", "      users: [dave]", "      max_duration: an hour"), []wantErr{{11, 21, `invalid max_duration "an hour": use a Go duration`}}},
		{"auto_approve zero duration", withApprovalA("    auto_approve:", "      users: [dave]", "      max_duration: 0s"), []wantErr{{11, 21, `max_duration must be positive, got "0s"`}}},
		{"auto_approve bad time", withApprovalA("    auto_approve:", "      users: [dave]", "      max_duration: 1h", "      time: {days: [mon]}"), []wantErr{{12, 21, `unknown day "mon"`}}},
		{"auto_approve days outside time", withApprovalA("    auto_approve:", "      users: [dave]", "      max_duration: 1h", "      days: [monday]"), []wantErr{{12, 7, "days belongs under time:"}}},

		// Break-glass rules.
		{"break-glass without name", withSection("breakglass:", "  - users: [alice]"), []wantErr{{6, 5, "break-glass rule 1 has no name"}}},
		{"duplicate break-glass name", withBreakGlassA("  - name: bg", "    users: [bob]"), []wantErr{{9, 11, `duplicate break-glass rule name "bg" (first used at line 6)`}}},
		{"break-glass and approval may share a name", withBreakGlassA("approvals:", "  - name: bg", "    approvers: [bob]"), nil},
		{"break-glass without users", withSection("breakglass:", "  - name: bg"), []wantErr{{6, 5, "break-glass rule 1 has no users: list who may invoke break-glass"}}},
		{"break-glass empty users", withSection("breakglass:", "  - name: bg", "    users: []"), []wantErr{{7, 12, "users is an empty list"}}},
		{"unknown reason code", withBreakGlassA("    reason_codes: [incident, boredom]"), []wantErr{{9, 30, `unknown reason code "boredom": use one of incident, maintenance, security, recovery, other`}}},
		{"reason code is case-sensitive", withBreakGlassA("    reason_codes: [Incident]"), []wantErr{{9, 20, `unknown reason code "Incident"`}}},
		{"empty reason codes", withBreakGlassA("    reason_codes: []"), []wantErr{{9, 19, "reason_codes is an empty list, so nobody could invoke this rule"}}},
		{"misspelt reason codes", withBreakGlassA("    reasons: [incident]"), []wantErr{{9, 5, `did you mean "reason_codes"?`}}},
		{"max_duration over 4h", withBreakGlassA("    max_duration: 4h1m"), []wantErr{{9, 19, "max_duration 4h1m is longer than 4h, the longest any break-glass can last"}}},
		{"negative cooldown", withBreakGlassA("    cooldown: -1m"), []wantErr{{9, 15, `cooldown must be positive, got "-1m"`}}},
		{"bad window", withBreakGlassA("    window: 1d"), []wantErr{{9, 13, `invalid window "1d"`}}},
		{"zero max_per_user", withBreakGlassA("    max_per_user: 0"), []wantErr{{9, 19, `max_per_user must be a positive whole number, got "0"`}}},
		{"negative max_per_profile", withBreakGlassA("    max_per_profile: -3"), []wantErr{{9, 22, `max_per_profile must be a positive whole number, got "-3"`}}},
		{"fractional threshold", withBreakGlassA("    escalation_threshold: 2.5"), []wantErr{{9, 27, `escalation_threshold must be a positive whole number, got "2.5"`}}},
		{"quoted count", withBreakGlassA(`    max_per_user: "3"`), []wantErr{{9, 19, `max_per_user must be a positive whole number, got "3"`}}},
		{"unknown break-glass field", withBreakGlassA("    approvers: [bob]"), []wantErr{{9, 5, "break-glass needs no approver"}}},

		// Webhooks.
		{"null notifications", withSection("notifications:"), []wantErr{{5, 15, "notifications is empty"}}},
		{"notifications without webhooks", withSection("notifications: {}"), []wantErr{{5, 16, "notifications has no webhooks"}}},
		{"webhook without url", withSection("notifications:", "  webhooks:", "    - name: w", "      secret_env: S"), []wantErr{{7, 7, "webhook 1 has no url"}}},
		{"webhook without secret_env", withSection("notifications:", "  webhooks:", "    - name: w", "      url: https://h.example/x"), []wantErr{{7, 7, "webhook 1 has no secret_env"}}},
		{"secret in the file", withWebhookA("      secret: hunter2"), []wantErr{{10, 7, "the secret never goes in the policy file"}}},
		{"duplicate webhook name", withWebhookA("    - name: w", "      url: https://h.example/y", "      secret_env: S"), []wantErr{{10, 13, `duplicate webhook name "w" (first used at line 7)`}}},
		{"ftp url", withSection("notifications:", "  webhooks:", "    - name: w", "      url: ftp://h.example/x", "      secret_env: S"), []wantErr{{8, 12, `url "ftp://h.example/x" is not an http(s) URL`}}},
		{"relative url", withSection("notifications:", "  webhooks:", "    - name: w", "      url: /hooks", "      secret_env: S"), []wantErr{{8, 12, "is not an http(s) URL"}}},
		{"plain http to a remote host", withSection("notifications:", "  webhooks:", "    - name: w", "      url: http://hooks.example.com/x", "      secret_env: S"), []wantErr{{8, 12, "uses plain http to a host that is not loopback: use https"}}},
		{"plain http to a private address", withSection("notifications:", "  webhooks:", "    - name: w", "      url: http://10.0.0.1/x", "      secret_env: S"), []wantErr{{8, 12, "not loopback"}}},
		{"credentials in the url are not echoed", withSection("notifications:", "  webhooks:", "    - name: w", "      url: https://u:hunter2@h.example/x", "      secret_env: S"), []wantErr{{8, 12, `url "https://REDACTED@h.example/x" carries credentials`}}},
		{"bad env name", withSection("notifications:", "  webhooks:", "    - name: w", "      url: https://h.example/x", "      secret_env: 1SECRET"), []wantErr{{9, 19, `secret_env "1SECRET" is not an environment variable name`}}},
		{"env name with a dash", withSection("notifications:", "  webhooks:", "    - name: w", "      url: https://h.example/x", "      secret_env: MY-SECRET"), []wantErr{{9, 19, "is not an environment variable name"}}},
		{"unknown event", withWebhookA("      events: [request.created, request.updated]"), []wantErr{{10, 33, `unknown event "request.updated": use one of request.created, request.approved, request.denied, breakglass.invoked, breakglass.closed`}}},
		{"empty events", withWebhookA("      events: []"), []wantErr{{10, 15, "events is an empty list, so nothing would be sent"}}},
		{"timeout over a minute", withWebhookA("      timeout: 2m"), []wantErr{{10, 16, "timeout 2m is longer than 1m"}}},
		{"zero timeout", withWebhookA("      timeout: 0s"), []wantErr{{10, 16, "timeout must be positive"}}},

		// All problems across sections are reported, in file order.
		{"problems in every section", withSection("approvals:", "  - name: pa", "    approvers: []", "breakglass:", "  - name: bg", "    users: [alice]", "    max_duration: 5h", "notifications:", "  webhooks:", "    - name: w", "      url: http://h.example", "      secret_env: S"),
			[]wantErr{{7, 16, "approvers is an empty list"}, {11, 19, "longer than 4h"}, {15, 12, "plain http"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol, err := Parse([]byte(tt.input))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want errors %v", pol, tt.want)
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
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows a secret from the file: %v", err)
			}
		})
	}
}

func TestParseOverrideSections(t *testing.T) {
	pol := mustParse(t, withSection(
		"approvals:",
		"  - name: pa",
		"    profiles: [prod, prod-eu]",
		"    approvers: [bob, 'arn:aws:iam::111122223333:user/carol']",
		"    auto_approve:",
		"      users: [dave]",
		"      max_duration: 90m",
		"      time: {hours: {start: \"18:00\", end: \"08:00\"}, timezone: Europe/London}",
		"  - name: rest",
		"    approvers: [sec]",
		"breakglass:",
		"  - name: bg",
		"    profiles: [prod]",
		"    users: [alice, bob]",
		"    reason_codes: [security, incident, security]",
		"    max_duration: 2h",
		"    cooldown: 30m",
		"    max_per_user: 3",
		"    max_per_profile: 10",
		"    window: 12h",
		"    escalation_threshold: 2",
		"  - name: defaults",
		"    users: [ops]",
		"notifications:",
		"  webhooks:",
		"    - name: w",
		"      url: http://[::1]:9000/x",
		"      secret_env: HOOK_SECRET",
		"      events: [breakglass.invoked, breakglass.invoked]",
		"    - name: all",
		"      url: https://hooks.example.com/sentinel",
		"      secret_env: _S2",
		"      timeout: 250ms",
	))
	if len(pol.Approvals) != 2 || len(pol.BreakGlass) != 2 || len(pol.Webhooks) != 2 {
		t.Fatalf("sections = %d approvals, %d break-glass, %d webhooks", len(pol.Approvals), len(pol.BreakGlass), len(pol.Webhooks))
	}
	a := pol.Approvals[0]
	if a.Name != "pa" || a.Line != 6 || !slices.Equal(a.Profiles, []string{"prod", "prod-eu"}) ||
		!slices.Equal(a.Approvers, []string{"bob", "arn:aws:iam::111122223333:user/carol"}) {
		t.Errorf("approval rule 0 = %+v", a)
	}
	if a.AutoApprove == nil || !slices.Equal(a.AutoApprove.Users, []string{"dave"}) || a.AutoApprove.MaxDuration != 90*time.Minute ||
		a.AutoApprove.Time == nil || a.AutoApprove.Time.Hours.Start != 18*60 {
		t.Errorf("auto_approve = %+v", a.AutoApprove)
	}
	if r := pol.Approvals[1]; r.Name != "rest" || r.Profiles != nil || r.AutoApprove != nil {
		t.Errorf("approval rule 1 = %+v", r)
	}
	bg := pol.BreakGlass[0]
	if bg.Name != "bg" || !slices.Equal(bg.ReasonCodes, []string{"security", "incident"}) || bg.MaxDuration != 2*time.Hour ||
		bg.Cooldown != 30*time.Minute || bg.MaxPerUser != 3 || bg.MaxPerProfile != 10 || bg.Window != 12*time.Hour || bg.EscalationThreshold != 2 {
		t.Errorf("break-glass rule 0 = %+v", bg)
	}
	def := pol.BreakGlass[1]
	if !slices.Equal(def.ReasonCodes, ReasonCodes()) || def.MaxDuration != MaxBreakGlassDuration || def.Window != DefaultBreakGlassWindow ||
		def.Cooldown != 0 || def.MaxPerUser != 0 || def.MaxPerProfile != 0 || def.EscalationThreshold != 0 {
		t.Errorf("break-glass defaults = %+v", def)
	}
	w := pol.Webhooks[0]
	if w.URL != "http://[::1]:9000/x" || w.SecretEnv != "HOOK_SECRET" || !slices.Equal(w.Events, []string{EventBreakGlassInvoked}) || w.Timeout != DefaultWebhookTimeout {
		t.Errorf("webhook 0 = %+v", w)
	}
	if !w.Wants(EventBreakGlassInvoked) || w.Wants(EventRequestCreated) {
		t.Errorf("webhook 0 Wants disagrees with its events %v", w.Events)
	}
	all := pol.Webhooks[1]
	if all.Timeout != 250*time.Millisecond || all.Events != nil {
		t.Errorf("webhook 1 = %+v", all)
	}
	for _, e := range WebhookEvents() {
		if !all.Wants(e) {
			t.Errorf("a webhook without events does not want %s", e)
		}
	}
}

func TestParseWithoutOverrideSections(t *testing.T) {
	pol := mustParse(t, withSection())
	if pol.Approvals != nil || pol.BreakGlass != nil || pol.Webhooks != nil {
		t.Fatalf("sections set on a policy without them: %+v", pol)
	}
	if r, ok := pol.ApprovalRuleFor("prod"); ok || r != nil {
		t.Errorf("ApprovalRuleFor on no approvals = %v, %v", r, ok)
	}
	if r, ok := pol.BreakGlassRuleFor(ports.Identity{Name: "alice"}, "prod"); ok || r != nil {
		t.Errorf("BreakGlassRuleFor on no break-glass = %v, %v", r, ok)
	}
	var nilPolicy *Policy
	if _, ok := nilPolicy.ApprovalRuleFor("prod"); ok {
		t.Error("nil policy has an approval rule")
	}
	if _, ok := nilPolicy.BreakGlassRuleFor(ports.Identity{Name: "alice"}, "prod"); ok {
		t.Error("nil policy has a break-glass rule")
	}
}

func TestApprovalRuleFor(t *testing.T) {
	pol := mustParse(t, withSection(
		"approvals:",
		"  - name: prod",
		"    profiles: [prod, prod-eu]",
		"    approvers: [bob]",
		"  - name: staging",
		"    profiles: [staging]",
		"    approvers: [carol]",
		"  - name: rest",
		"    profiles: []",
		"    approvers: [sec]",
		"  - name: never",
		"    profiles: [dev]",
		"    approvers: [dan]",
	))
	tests := []struct{ profile, want string }{
		{"prod", "prod"}, {"prod-eu", "prod"}, {"staging", "staging"},
		{"dev", "rest"}, // the empty list comes first and covers everything
		{"Prod", "rest"},
		{"", ""},
	}
	for _, tt := range tests {
		r, ok := pol.ApprovalRuleFor(tt.profile)
		got := ""
		if ok {
			got = r.Name
		}
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("ApprovalRuleFor(%q) = %q, %v; want %q", tt.profile, got, ok, tt.want)
		}
	}
}

func TestIsApprover(t *testing.T) {
	rule := &ApprovalRule{Name: "r", Approvers: []string{"bob", "arn:aws:sts::111122223333:assumed-role/Security/*"}}
	tests := []struct {
		name string
		id   ports.Identity
		want bool
	}{
		{"listed name", ports.Identity{Name: "bob", Source: "os"}, true},
		{"name is case-sensitive", ports.Identity{Name: "Bob"}, false},
		{"name is exact", ports.Identity{Name: "bob2"}, false},
		{"role by ARN", ports.Identity{ARN: "arn:aws:sts::111122223333:assumed-role/Security/mallory", Name: "mallory"}, true},
		{"other role", ports.Identity{ARN: "arn:aws:sts::111122223333:assumed-role/Dev/mallory", Name: "mallory"}, false},
		{"OS identity never matches an ARN entry", ports.Identity{Name: "arn:aws:sts::111122223333:assumed-role/Security/x"}, false},
		{"empty identity", ports.Identity{}, false},
	}
	for _, tt := range tests {
		if got := rule.IsApprover(tt.id); got != tt.want {
			t.Errorf("%s: IsApprover(%+v) = %v, want %v", tt.name, tt.id, got, tt.want)
		}
	}
	var none *ApprovalRule
	if none.IsApprover(ports.Identity{Name: "bob"}) || none.Covers("prod") {
		t.Error("a nil rule approves or covers")
	}
}

func TestAutoApproves(t *testing.T) {
	pol := mustParse(t, withSection(
		"approvals:",
		"  - name: on-call",
		"    approvers: [bob]",
		"    auto_approve:",
		"      users: [dave]",
		"      max_duration: 1h",
		`      time: {days: [monday], hours: {start: "09:00", end: "17:00"}}`,
		"  - name: manual",
		"    profiles: [x]",
		"    approvers: [bob]",
	))
	rule := &pol.Approvals[0]
	monday := at(t, "2026-03-09T10:00:00Z", "UTC", time.Monday)
	dave := ports.Identity{Name: "dave"}
	tests := []struct {
		name string
		id   ports.Identity
		at   time.Time
		d    time.Duration
		want bool
	}{
		{"all match", dave, monday, time.Hour, true},
		{"shorter", dave, monday, time.Minute, true},
		{"just over max_duration", dave, monday, time.Hour + time.Nanosecond, false},
		{"zero duration", dave, monday, 0, false},
		{"other user", ports.Identity{Name: "erin"}, monday, time.Hour, false},
		{"approver is not an auto user", ports.Identity{Name: "bob"}, monday, time.Hour, false},
		{"outside hours", dave, monday.Add(7 * time.Hour), time.Hour, false},
		{"end of hours is outside", dave, monday.Add(7*time.Hour - time.Nanosecond), time.Hour, true},
		{"other day", dave, monday.Add(24 * time.Hour), time.Hour, false},
	}
	for _, tt := range tests {
		if got := rule.AutoApproves(tt.id, tt.at, tt.d); got != tt.want {
			t.Errorf("%s: AutoApproves = %v, want %v", tt.name, got, tt.want)
		}
	}
	if pol.Approvals[1].AutoApproves(dave, monday, time.Minute) {
		t.Error("a rule without auto_approve auto-approved")
	}
}

func TestBreakGlassRuleFor(t *testing.T) {
	pol := mustParse(t, withSection(
		"breakglass:",
		"  - name: prod-oncall",
		"    profiles: [prod]",
		"    users: [alice, 'arn:aws:sts::111122223333:assumed-role/OnCall/*']",
		"  - name: prod-sec",
		"    profiles: [prod]",
		"    users: [sam]",
		"  - name: anywhere",
		"    users: [root-team]",
	))
	alice := ports.Identity{Name: "alice"}
	onCall := ports.Identity{ARN: "arn:aws:sts::111122223333:assumed-role/OnCall/zed", Name: "zed"}
	tests := []struct {
		id      ports.Identity
		profile string
		want    string
	}{
		{alice, "prod", "prod-oncall"},
		{onCall, "prod", "prod-oncall"},
		{ports.Identity{Name: "sam"}, "prod", "prod-sec"}, // not in the first, so the next covering rule
		{alice, "staging", ""},
		{ports.Identity{Name: "root-team"}, "staging", "anywhere"},
		{ports.Identity{Name: "root-team"}, "prod", "anywhere"},
		{ports.Identity{Name: "mallory"}, "prod", ""},
		{ports.Identity{Name: "zed"}, "prod", ""}, // the name alone is not the role
		{alice, "", ""},
	}
	for _, tt := range tests {
		r, ok := pol.BreakGlassRuleFor(tt.id, tt.profile)
		got := ""
		if ok {
			got = r.Name
		}
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("BreakGlassRuleFor(%+v, %q) = %q, %v; want %q", tt.id, tt.profile, got, ok, tt.want)
		}
	}
	r := &pol.BreakGlass[0]
	if !r.AllowsReason(ReasonIncident) || r.AllowsReason("boredom") {
		t.Errorf("AllowsReason with default codes %v is wrong", r.ReasonCodes)
	}
	var none *BreakGlassRule
	if none.Allows(alice, "prod") || none.AllowsReason(ReasonIncident) {
		t.Error("a nil rule allows")
	}
}

func TestReasonCodesAndEventsAreCopies(t *testing.T) {
	codes := ReasonCodes()
	codes[0] = "changed"
	if ReasonCodes()[0] != ReasonIncident || !ValidReasonCode(ReasonIncident) || ValidReasonCode("changed") {
		t.Error("ReasonCodes exposes the package's own slice")
	}
	events := WebhookEvents()
	events[0] = "changed"
	if WebhookEvents()[0] != EventRequestCreated {
		t.Error("WebhookEvents exposes the package's own slice")
	}
}

func TestLintOverrides(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{"approval rule after a catch-all",
			withSection("approvals:", "  - name: all", "    approvers: [bob]", "  - name: prod", "    profiles: [prod]", "    approvers: [carol]"),
			[]string{"line 8: approval rule prod can never apply: approval rule all (line 6) covers every profile it does"}},
		{"approval rule with a profile superset first",
			withSection("approvals:", "  - name: wide", "    profiles: [prod, dev]", "    approvers: [bob]", "  - name: narrow", "    profiles: [dev]", "    approvers: [carol]"),
			[]string{"line 9: approval rule narrow can never apply"}},
		{"approval rules on other profiles",
			withSection("approvals:", "  - name: prod", "    profiles: [prod]", "    approvers: [bob]", "  - name: rest", "    approvers: [carol]"), nil},
		{"break-glass covered in profiles and users",
			withSection("breakglass:", "  - name: a", "    users: [alice, bob]", "  - name: b", "    profiles: [prod]", "    users: [bob]"),
			[]string{"line 8: break-glass rule b can never apply: break-glass rule a (line 6) covers every profile and user it does"}},
		{"break-glass with other users is reachable",
			withSection("breakglass:", "  - name: a", "    users: [alice]", "  - name: b", "    profiles: [prod]", "    users: [bob]"), nil},
		{"literal stars",
			withSection("approvals:", "  - name: a", "    profiles: ['prod*']", "    approvers: ['ops-*']", "breakglass:", "  - name: b", "    users: ['*-admin']"),
			[]string{`line 6: approval rule a: profile "prod*": '*' is not a wildcard`, `line 6: approval rule a: user "ops-*": '*' is a wildcard only`, `line 10: break-glass rule b: user "*-admin"`}},
		{"ARN stars are wildcards",
			withSection("approvals:", "  - name: a", "    approvers: ['arn:aws:sts::1:assumed-role/Sec/*']"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.input).Lint()
			if len(got) != len(tt.want) {
				t.Fatalf("Lint = %v, want %d warnings %v", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i].String(), w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, got[i].String(), w)
				}
			}
		})
	}
}

// TestReferenceDocOverrideClaims checks what the reference doc says about its
// approvals and break-glass examples.
func TestReferenceDocOverrideClaims(t *testing.T) {
	pol := loadDocExample(t, "approvals.yaml")
	carol := ports.Identity{ARN: "arn:aws:iam::111122223333:user/carol", Name: "carol", Source: "sts"}
	fakeCarol := ports.Identity{ARN: "arn:aws:sts::111122223333:assumed-role/Dev/carol", Name: "carol", Source: "sts"}
	security := ports.Identity{ARN: "arn:aws:sts::111122223333:assumed-role/Security/sam", Name: "sam", Source: "sts"}

	prod, ok := pol.ApprovalRuleFor("prod-eu")
	if !ok || prod.Name != "prod-approvals" {
		t.Fatalf("prod-eu is covered by %+v", prod)
	}
	if !prod.IsApprover(ports.Identity{Name: "bob"}) || !prod.IsApprover(carol) || prod.IsApprover(fakeCarol) || prod.IsApprover(security) {
		t.Error("prod-approvals approvers do not match the doc")
	}
	other, ok := pol.ApprovalRuleFor("billing")
	if !ok || other.Name != "everything-else" || !other.IsApprover(security) || other.IsApprover(ports.Identity{Name: "bob"}) {
		t.Errorf("billing is covered by %+v", other)
	}
	// Weekday nights in London: Monday 23:00 and Tuesday 07:59 yes, Tuesday 08:00 and Saturday 23:00 no.
	dave := ports.Identity{Name: "dave"}
	for _, c := range []struct {
		when string
		day  time.Weekday
		d    time.Duration
		want bool
	}{
		{"2026-01-12T23:00:00Z", time.Monday, time.Hour, true},
		{"2026-01-13T07:59:00Z", time.Tuesday, time.Hour, true},
		{"2026-01-13T08:00:00Z", time.Tuesday, time.Hour, false},
		{"2026-01-17T23:00:00Z", time.Saturday, time.Hour, false},
		{"2026-01-12T23:00:00Z", time.Monday, 2 * time.Hour, false},
	} {
		if got := prod.AutoApproves(dave, at(t, c.when, "Europe/London", c.day), c.d); got != c.want {
			t.Errorf("auto-approve dave at %s for %v = %v, want %v", c.when, c.d, got, c.want)
		}
	}

	bg := loadDocExample(t, "breakglass.yaml")
	r, ok := bg.BreakGlassRuleFor(ports.Identity{Name: "bob"}, "prod")
	if !ok || r.MaxDuration != 2*time.Hour || r.Window != 24*time.Hour || !r.AllowsReason(ReasonSecurity) || r.AllowsReason(ReasonOther) {
		t.Errorf("breakglass example = %+v", r)
	}
	if _, ok := bg.BreakGlassRuleFor(ports.Identity{Name: "carol"}, "prod"); ok {
		t.Error("carol may invoke break-glass in the doc example")
	}

	hooks := loadDocExample(t, "notifications.yaml").Webhooks
	if len(hooks) != 2 || hooks[0].Timeout != 5*time.Second || len(hooks[1].Events) != 0 || !hooks[1].Wants(EventBreakGlassClosed) {
		t.Errorf("webhooks example = %+v", hooks)
	}
}
