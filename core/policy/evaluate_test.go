package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

func mustParse(t testing.TB, input string) *Policy {
	t.Helper()
	pol, err := Parse([]byte(input))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, input)
	}
	return pol
}

// at parses an RFC 3339 instant and checks it falls on the weekday the test
// case claims, so a wrong date cannot silently test the wrong thing.
func at(t testing.TB, rfc3339 string, zone string, want time.Weekday) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.In(loc).Weekday(); got != want {
		t.Fatalf("%s is a %v in %s, the case says %v", rfc3339, got, zone, want)
	}
	return ts
}

type timeCase struct {
	name string
	when string
	day  time.Weekday // in the window's zone
	want bool
}

func runTimeCases(t *testing.T, pol *Policy, zone string, cases []timeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := pol.Evaluate(Request{Profile: "prod", Mode: ModeCLI, Time: at(t, tc.when, zone, tc.day)})
			if d.Allowed() != tc.want {
				t.Errorf("at %s allowed = %v, want %v (%+v)", tc.when, d.Allowed(), tc.want, d)
			}
		})
	}
}

func TestOvernightWindow(t *testing.T) {
	fridayNight := mustParse(t, withRuleA("    conditions:", "      time:", "        days: [friday]", `        hours: {start: "22:00", end: "06:00"}`))
	runTimeCases(t, fridayNight, "UTC", []timeCase{
		{"saturday 03:00 belongs to friday's window", "2026-01-10T03:00:00Z", time.Saturday, true},
		{"friday 03:00 belongs to thursday's window", "2026-01-09T03:00:00Z", time.Friday, false},
		{"friday 23:00", "2026-01-09T23:00:00Z", time.Friday, true},
		{"exactly start is in", "2026-01-09T22:00:00Z", time.Friday, true},
		{"just before start", "2026-01-09T21:59:59Z", time.Friday, false},
		{"just before end", "2026-01-10T05:59:59Z", time.Saturday, true},
		{"exactly end is out", "2026-01-10T06:00:00Z", time.Saturday, false},
		{"saturday 23:00 is saturday's window", "2026-01-10T23:00:00Z", time.Saturday, false},
		{"friday noon", "2026-01-09T12:00:00Z", time.Friday, false},
	})

	thursdayAndFriday := mustParse(t, withRuleA("    conditions:", "      time:", "        days: [thursday, friday]", `        hours: {start: "22:00", end: "06:00"}`))
	runTimeCases(t, thursdayAndFriday, "UTC", []timeCase{
		{"friday 03:00 with thursday listed", "2026-01-09T03:00:00Z", time.Friday, true},
		{"thursday 03:00 belongs to wednesday", "2026-01-08T03:00:00Z", time.Thursday, false},
	})

	everyNight := mustParse(t, withRuleA("    conditions:", "      time:", `        hours: {start: "22:00", end: "06:00"}`))
	runTimeCases(t, everyNight, "UTC", []timeCase{
		{"any night late", "2026-01-06T23:30:00Z", time.Tuesday, true},
		{"any night early", "2026-01-06T01:00:00Z", time.Tuesday, true},
		{"daytime", "2026-01-06T12:00:00Z", time.Tuesday, false},
	})

	// Sunday 00:00-06:00 continues saturday's window across the week boundary.
	saturdayNight := mustParse(t, withRuleA("    conditions:", "      time:", "        days: [saturday]", `        hours: {start: "20:00", end: "06:00"}`))
	runTimeCases(t, saturdayNight, "UTC", []timeCase{
		{"sunday 02:00", "2026-01-11T02:00:00Z", time.Sunday, true},
		{"monday 02:00", "2026-01-12T02:00:00Z", time.Monday, false},
	})
}

func TestDayWindow(t *testing.T) {
	weekdays := mustParse(t, withRuleA("    conditions:", "      time:", "        days: [monday, tuesday, wednesday, thursday, friday]"))
	runTimeCases(t, weekdays, "UTC", []timeCase{
		{"monday 00:00", "2026-01-05T00:00:00Z", time.Monday, true},
		{"friday 23:59:59", "2026-01-09T23:59:59Z", time.Friday, true},
		{"saturday 00:00", "2026-01-10T00:00:00Z", time.Saturday, false},
		{"sunday 12:00", "2026-01-11T12:00:00Z", time.Sunday, false},
	})
	// Whole days are days in the rule's zone: Monday 23:00 in New York is
	// already Tuesday in UTC.
	mondayNY := mustParse(t, withRuleA("    conditions:", "      time:", "        days: [monday]", "        timezone: America/New_York"))
	runTimeCases(t, mondayNY, "America/New_York", []timeCase{
		{"monday 23:00 EDT is tuesday UTC", "2026-03-10T03:00:00Z", time.Monday, true},
		{"monday 00:30 UTC is sunday EDT", "2026-03-09T00:30:00Z", time.Sunday, false},
	})
}

func TestTimezoneAcrossDST(t *testing.T) {
	businessHoursNY := mustParse(t, withRuleA("    conditions:", "      time:",
		"        days: [monday, tuesday, wednesday, thursday, friday]",
		`        hours: {start: "09:00", end: "17:00"}`,
		"        timezone: America/New_York"))
	runTimeCases(t, businessHoursNY, "America/New_York", []timeCase{
		// Before 8 March 2026: EST, UTC-5.
		{"winter 13:30Z is 08:30 EST", "2026-03-06T13:30:00Z", time.Friday, false},
		{"winter 14:30Z is 09:30 EST", "2026-03-06T14:30:00Z", time.Friday, true},
		{"winter 21:59Z is 16:59 EST", "2026-03-06T21:59:00Z", time.Friday, true},
		{"winter 22:00Z is 17:00 EST", "2026-03-06T22:00:00Z", time.Friday, false},
		// After 8 March 2026: EDT, UTC-4.
		{"summer 13:30Z is 09:30 EDT", "2026-03-09T13:30:00Z", time.Monday, true},
		{"summer 12:30Z is 08:30 EDT", "2026-03-09T12:30:00Z", time.Monday, false},
		{"summer 21:00Z is 17:00 EDT", "2026-03-09T21:00:00Z", time.Monday, false},
		// Before 1 November 2026: still EDT.
		{"october 13:30Z is 09:30 EDT", "2026-10-30T13:30:00Z", time.Friday, true},
		{"october 20:59Z is 16:59 EDT", "2026-10-30T20:59:00Z", time.Friday, true},
		{"october 21:00Z is 17:00 EDT", "2026-10-30T21:00:00Z", time.Friday, false},
		// After 1 November 2026: EST again.
		{"november 13:30Z is 08:30 EST", "2026-11-02T13:30:00Z", time.Monday, false},
		{"november 14:00Z is 09:00 EST", "2026-11-02T14:00:00Z", time.Monday, true},
		{"november 21:59Z is 16:59 EST", "2026-11-02T21:59:00Z", time.Monday, true},
		{"november 22:00Z is 17:00 EST", "2026-11-02T22:00:00Z", time.Monday, false},
	})

	// An overnight window across the spring-forward night: 02:00-03:00 does
	// not exist, and the window still ends at 06:00 wall-clock (10:00Z, not 11:00Z).
	saturdayNightNY := mustParse(t, withRuleA("    conditions:", "      time:", "        days: [saturday]",
		`        hours: {start: "22:00", end: "06:00"}`, "        timezone: America/New_York"))
	runTimeCases(t, saturdayNightNY, "America/New_York", []timeCase{
		{"saturday 22:00 EST", "2026-03-08T03:00:00Z", time.Saturday, true},
		{"sunday 03:30 EDT", "2026-03-08T07:30:00Z", time.Sunday, true},
		{"sunday 05:59 EDT", "2026-03-08T09:59:00Z", time.Sunday, true},
		{"sunday 06:00 EDT", "2026-03-08T10:00:00Z", time.Sunday, false},
	})
}

func TestEmptyListsAreWildcards(t *testing.T) {
	requests := []Request{
		{Profile: "prod", Mode: ModeServer, Identity: ports.Identity{Name: "alice", ARN: "arn:aws:iam::123456789012:user/alice"}},
		{Profile: "", Mode: ModeCLI},
		{Profile: "dev", Mode: ModeCredentialProcess, Identity: ports.Identity{Name: "bob", Source: "os"}},
	}
	for _, input := range []string{
		withRuleA(),
		withRuleA("    conditions: {}"),
		withRuleA("    conditions: {profiles: [], users: [], mode: []}"),
	} {
		pol := mustParse(t, input)
		for _, r := range requests {
			r.Time = time.Date(2026, 7, 4, 12, 0, 0, 0, time.UTC)
			if d := pol.Evaluate(r); !d.Allowed() || d.Rule != "a" || d.RuleIndex != 0 {
				t.Errorf("%q: request %+v = %+v, want allowed by rule a", input, r, d)
			}
		}
	}
}

func TestFirstMatchWinsAndDefaultDeny(t *testing.T) {
	pol := mustParse(t, doc(`version: "1"`, "rules:",
		"  - name: deny-prod-cli", "    effect: deny", "    reason: prod needs the server", "    conditions: {profiles: [prod], mode: [cli]}",
		"  - name: allow-prod", "    effect: allow", "    conditions: {profiles: [prod]}",
		"  - name: deny-prod-never-reached", "    effect: deny", "    conditions: {profiles: [prod]}",
		"  - name: allow-dev-alice", "    effect: allow", "    conditions: {profiles: [dev], users: [alice]}",
	))
	now := time.Date(2026, 2, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		req  Request
		want Decision
	}{
		{"first rule", Request{Profile: "prod", Mode: ModeCLI},
			Decision{Effect: EffectDeny, RuleEffect: EffectDeny, Rule: "deny-prod-cli", RuleIndex: 0, Reason: "prod needs the server"}},
		{"second rule, default reason", Request{Profile: "prod", Mode: ModeServer},
			Decision{Effect: EffectAllow, RuleEffect: EffectAllow, Rule: "allow-prod", RuleIndex: 1, Reason: `matched rule "allow-prod"`}},
		{"users condition", Request{Profile: "dev", Mode: ModeCLI, Identity: ports.Identity{Name: "alice"}},
			Decision{Effect: EffectAllow, RuleEffect: EffectAllow, Rule: "allow-dev-alice", RuleIndex: 3, Reason: `matched rule "allow-dev-alice"`}},
		{"no rule matches", Request{Profile: "dev", Mode: ModeCLI, Identity: ports.Identity{Name: "bob"}},
			Decision{Effect: EffectDeny, RuleIndex: -1, Reason: "no matching rule"}},
		{"unknown profile", Request{Profile: "other", Mode: ModeServer},
			Decision{Effect: EffectDeny, RuleIndex: -1, Reason: "no matching rule"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Time = now
			if got := pol.Evaluate(tt.req); got != tt.want {
				t.Errorf("Evaluate = %+v\nwant       %+v", got, tt.want)
			}
		})
	}

	var none *Policy
	if d := none.Evaluate(Request{}); d.Effect != EffectDeny || d.RuleIndex != -1 || d.Reason != NoMatchReason {
		t.Errorf("nil policy = %+v, want default deny", d)
	}
	empty := mustParse(t, doc(`version: "1"`, "rules: []"))
	if d := empty.Evaluate(Request{Profile: "prod", Mode: ModeServer, Time: now}); d.Effect != EffectDeny || d.Rule != "" || d.RuleIndex != -1 || d.Reason != "no matching rule" {
		t.Errorf("empty policy = %+v, want default deny", d)
	}
}

func TestEffects(t *testing.T) {
	policyWith := func(effect Effect) *Policy {
		return mustParse(t, doc(`version: "1"`, "rules:", "  - name: r", "    effect: "+string(effect), "    reason: because", "    max_server_duration: 30m"))
	}
	type flags struct{ serverMode, tracking, approval bool }
	tests := []struct {
		effect   Effect
		mode     Mode
		tracking bool
		want     Effect
		flags    flags
		reason   string
	}{
		{EffectAllow, ModeCLI, false, EffectAllow, flags{}, "because"},
		{EffectAllow, ModeServer, true, EffectAllow, flags{}, "because"},
		{EffectDeny, ModeServer, true, EffectDeny, flags{}, "because"},
		{EffectDeny, ModeCLI, false, EffectDeny, flags{}, "because"},
		{EffectRequireApproval, ModeServer, true, EffectDeny, flags{approval: true}, "because (denied: requires approval)"},
		{EffectRequireApproval, ModeCLI, false, EffectDeny, flags{approval: true}, "because (denied: requires approval)"},

		{EffectRequireServer, ModeServer, false, EffectAllow, flags{}, "because"},
		{EffectRequireServer, ModeServer, true, EffectAllow, flags{}, "because"},
		{EffectRequireServer, ModeCLI, false, EffectDeny, flags{serverMode: true}, "because (denied: requires server mode)"},
		{EffectRequireServer, ModeCLI, true, EffectDeny, flags{serverMode: true}, "because (denied: requires server mode)"},
		{EffectRequireServer, ModeCredentialProcess, false, EffectDeny, flags{serverMode: true}, "because (denied: requires server mode)"},
		{EffectRequireServer, ModeCredentialProcess, true, EffectDeny, flags{serverMode: true}, "because (denied: requires server mode)"},
		{EffectRequireServer, ModeConsole, false, EffectDeny, flags{serverMode: true}, "because (denied: requires server mode)"},

		{EffectRequireServerSession, ModeServer, true, EffectAllow, flags{}, "because"},
		{EffectRequireServerSession, ModeServer, false, EffectDeny, flags{tracking: true}, "because (denied: requires session tracking)"},
		{EffectRequireServerSession, ModeCLI, false, EffectDeny, flags{serverMode: true, tracking: true}, "because (denied: requires server mode and session tracking)"},
		{EffectRequireServerSession, ModeCLI, true, EffectDeny, flags{serverMode: true}, "because (denied: requires server mode)"},
		{EffectRequireServerSession, ModeCredentialProcess, false, EffectDeny, flags{serverMode: true, tracking: true}, "because (denied: requires server mode and session tracking)"},
		{EffectRequireServerSession, ModeCredentialProcess, true, EffectDeny, flags{serverMode: true}, "because (denied: requires server mode)"},
		{EffectRequireServerSession, ModeConsole, false, EffectDeny, flags{serverMode: true, tracking: true}, "because (denied: requires server mode and session tracking)"},
		{EffectAllow, ModeConsole, false, EffectAllow, flags{}, "because"},
		{EffectDeny, ModeConsole, false, EffectDeny, flags{}, "because"},
		{EffectRequireApproval, ModeConsole, false, EffectDeny, flags{approval: true}, "because (denied: requires approval)"},
	}
	for _, tt := range tests {
		name := string(tt.effect) + "/" + string(tt.mode)
		if tt.tracking {
			name += "/tracking"
		}
		t.Run(name, func(t *testing.T) {
			d := policyWith(tt.effect).Evaluate(Request{Profile: "p", Mode: tt.mode, SessionTracking: tt.tracking, Time: time.Unix(0, 0)})
			got := flags{d.RequiresServerMode, d.RequiresSessionTracking, d.RequiresApproval}
			if d.Effect != tt.want || got != tt.flags || d.Reason != tt.reason {
				t.Errorf("got %s %+v %q, want %s %+v %q", d.Effect, got, d.Reason, tt.want, tt.flags, tt.reason)
			}
			if d.RuleEffect != tt.effect || d.Rule != "r" || d.RuleIndex != 0 || d.MaxServerDuration != 30*time.Minute {
				t.Errorf("rule fields = %+v", d)
			}
		})
	}
}

func TestUnknownEffectFailsClosed(t *testing.T) {
	pol := &Policy{Version: "1", Rules: []Rule{{Name: "hand-built", Effect: "permit"}}}
	d := pol.Evaluate(Request{Mode: ModeServer, SessionTracking: true})
	if d.Effect != EffectDeny || d.RuleEffect != "permit" || !strings.Contains(d.Reason, "requires a known effect") {
		t.Errorf("Evaluate = %+v, want deny", d)
	}
}

func TestUsers(t *testing.T) {
	const admin = "arn:aws:sts::123456789012:assumed-role/Admin/*"
	tests := []struct {
		name  string
		entry string
		id    ports.Identity
		want  bool
	}{
		{"role glob matches a session", admin, ports.Identity{ARN: "arn:aws:sts::123456789012:assumed-role/Admin/alice", Name: "alice"}, true},
		{"role glob is not a prefix match on the role", admin, ports.Identity{ARN: "arn:aws:sts::123456789012:assumed-role/AdminX/alice", Name: "alice"}, false},
		{"star spans '/'", admin, ports.Identity{ARN: "arn:aws:sts::123456789012:assumed-role/Admin/alice/extra"}, true},
		{"other account", admin, ports.Identity{ARN: "arn:aws:sts::999999999999:assumed-role/Admin/alice"}, false},
		{"anchored at the start", admin, ports.Identity{ARN: "xarn:aws:sts::123456789012:assumed-role/Admin/alice"}, false},
		{"anchored at the end", "arn:aws:iam::123456789012:user/alice", ports.Identity{ARN: "arn:aws:iam::123456789012:user/alice2"}, false},
		{"exact ARN", "arn:aws:iam::123456789012:user/alice", ports.Identity{ARN: "arn:aws:iam::123456789012:user/alice", Name: "alice"}, true},
		{"star spans ':' in the account", "arn:aws:iam::*:user/alice", ports.Identity{ARN: "arn:aws:iam::123456789012:user/alice"}, true},
		{"'?' is literal", "arn:aws:iam::123456789012:user/alic?", ports.Identity{ARN: "arn:aws:iam::123456789012:user/alice"}, false},
		{"arn entry ignores the name", admin, ports.Identity{Name: "arn:aws:sts::123456789012:assumed-role/Admin/alice"}, false},
		{"OS identity never matches an ARN entry", "arn:*", ports.Identity{Name: "alice", Source: "os"}, false},
		{"name matches exactly", "alice", ports.Identity{Name: "alice", Source: "os"}, true},
		{"name is case-sensitive", "alice", ports.Identity{Name: "Alice"}, false},
		{"alice.admin is not aliceadmin", "alice.admin", ports.Identity{Name: "aliceadmin"}, false},
		{"aliceadmin is not alice.admin", "aliceadmin", ports.Identity{Name: "alice.admin"}, false},
		{"alice.admin matches itself", "alice.admin", ports.Identity{Name: "alice.admin"}, true},
		{"no prefix matching of names", "alice", ports.Identity{Name: "alice.admin"}, false},
		{"name entry does not match the ARN", "alice", ports.Identity{ARN: "arn:aws:iam::123456789012:user/alice", Name: "bob"}, false},
		{"star in a name is literal", "ali*", ports.Identity{Name: "alice"}, false},
		{"empty identity", "alice", ports.Identity{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := mustParse(t, withRuleA("    conditions:", "      users: ['"+tt.entry+"']"))
			d := pol.Evaluate(Request{Identity: tt.id, Profile: "p", Mode: ModeCLI})
			if d.Allowed() != tt.want {
				t.Errorf("entry %q vs %+v: allowed = %v, want %v", tt.entry, tt.id, d.Allowed(), tt.want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything/at:all", true},
		{"a*", "a", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"*a*b", "xaxaxb", true},
		{"*ab", "aab", true},
		{"a**b", "ab", true},
		{"abc", "ab", false},
		{"ab", "abc", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
	// Many stars against a long near-miss must stay fast (no exponential backtracking).
	long := strings.Repeat("a", 5000)
	start := time.Now()
	if globMatch("arn:"+strings.Repeat("*a", 50)+"b", "arn:"+long) {
		t.Error("near-miss matched")
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("pathological glob took %v", elapsed)
	}
}
