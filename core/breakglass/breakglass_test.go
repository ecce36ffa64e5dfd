package breakglass

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

func TestInvokeChecks(t *testing.T) {
	t.Parallel()
	pol := testPolicyParsed(t)
	rule := testRule(t)
	opsRule, _ := pol.BreakGlassRuleFor(ports.Identity{Name: "ops"}, "prod")
	tests := []struct {
		name          string
		id            string
		invoker       ports.Identity
		profile, code string
		justification string
		d             time.Duration
		rule          *policy.BreakGlassRule
		wantErr       []error
		wantMsg       string
		wantDuration  time.Duration
		wantWarnings  []string
	}{
		{"allowed", testID, alice, "prod", ReasonIncident, justification, time.Hour, rule, nil, "", time.Hour, nil},
		{"another profile of the rule", testID, bob, "prod-eu", ReasonSecurity, justification, time.Hour, rule, nil, "", time.Hour, nil},

		// Who: the rule must allow this invoker for this profile.
		{"no rule", testID, mallory, "prod", ReasonIncident, justification, time.Hour, nil, []error{ErrForbidden},
			"no break-glass rule lets mallory invoke break-glass for prod", 0, nil},
		{"invoker not in the rule", testID, mallory, "prod", ReasonIncident, justification, time.Hour, rule, []error{ErrForbidden},
			"no break-glass rule lets mallory invoke break-glass for prod", 0, nil},
		{"profile not in the rule", testID, alice, "staging", ReasonIncident, justification, time.Hour, rule, []error{ErrForbidden},
			"no break-glass rule lets alice invoke break-glass for staging", 0, nil},

		// Why: the reason code.
		{"reason code not allowed", testID, alice, "prod", ReasonMaintenance, justification, time.Hour, rule, []error{ErrForbidden},
			"reason code maintenance is not allowed for prod: use one of incident, security (rule prod-emergency)", 0, nil},
		{"unknown reason code", testID, alice, "prod", "boredom", justification, time.Hour, rule, []error{ports.ErrInvalidArgument},
			`unknown reason code "boredom": use one of incident, security`, 0, nil},
		{"reason code is case-sensitive", testID, alice, "prod", "Incident", justification, time.Hour, rule, []error{ports.ErrInvalidArgument}, "unknown reason code", 0, nil},
		{"every code when the rule lists none", testID, ports.Identity{Name: "ops"}, "anything", ReasonOther, justification, time.Hour, opsRule, nil, "", time.Hour, nil},

		// The justification, in characters.
		{"20 characters", testID, alice, "prod", ReasonIncident, strings.Repeat("é", 20), time.Hour, rule, nil, "", time.Hour, nil},
		{"19 characters", testID, alice, "prod", ReasonIncident, strings.Repeat("x", 19), time.Hour, rule, []error{ports.ErrInvalidArgument},
			"justification is too short: 19 characters, at least 20", 0, nil},
		{"1000 characters", testID, alice, "prod", ReasonIncident, strings.Repeat("x", 1000), time.Hour, rule, nil, "", time.Hour, nil},
		{"1001 characters", testID, alice, "prod", ReasonIncident, strings.Repeat("x", 1001), time.Hour, rule, []error{ports.ErrInvalidArgument},
			"justification is too long: 1001 characters, at most 1000", 0, nil},
		{"blank justification", testID, alice, "prod", ReasonIncident, " \n ", time.Hour, rule, []error{ports.ErrInvalidArgument}, "justification is required", 0, nil},

		// How long: capped to the rule's max_duration, with a warning.
		{"the rule's maximum", testID, alice, "prod", ReasonIncident, justification, 2 * time.Hour, rule, nil, "", 2 * time.Hour, nil},
		{"over the rule's maximum", testID, alice, "prod", ReasonIncident, justification, 3 * time.Hour, rule, nil, "", 2 * time.Hour,
			[]string{"duration 3h capped to the 2h maximum of rule prod-emergency"}},
		{"over 4h under a 4h rule", testID, ports.Identity{Name: "ops"}, "prod", ReasonIncident, justification, 6 * time.Hour, opsRule, nil, "", 4 * time.Hour,
			[]string{"duration 6h capped to the 4h maximum of rule anything-for-ops"}},
		{"a minute", testID, alice, "prod", ReasonIncident, justification, time.Minute, rule, nil, "", time.Minute, nil},
		{"under a minute", testID, alice, "prod", ReasonIncident, justification, 59 * time.Second, rule, []error{ports.ErrInvalidArgument},
			"duration 59s is too short: ask for 1m to 2h", 0, nil},

		// Malformed input.
		{"bad id", "x", alice, "prod", ReasonIncident, justification, time.Hour, rule, []error{ports.ErrInvalidArgument}, `break-glass id "x" is not valid`, 0, nil},
		{"no invoker name", testID, ports.Identity{ARN: "arn:aws:iam::1:user/a"}, "prod", ReasonIncident, justification, time.Hour, rule, []error{ports.ErrInvalidArgument}, "the invoker has no name", 0, nil},
		{"no profile", testID, alice, "", ReasonIncident, justification, time.Hour, rule, []error{ports.ErrInvalidArgument}, "a profile is required", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, warnings, err := Invoke(tt.id, tt.invoker, tt.profile, tt.code, tt.justification, tt.d, tt.rule, nil, t0)
			wantError(t, err, tt.wantErr, tt.wantMsg)
			if len(tt.wantErr) > 0 {
				return
			}
			if !slices.Equal(warnings, tt.wantWarnings) {
				t.Errorf("warnings = %q, want %q", warnings, tt.wantWarnings)
			}
			want := ports.BreakGlassEvent{
				ID: tt.id, Invoker: tt.invoker.Name, Profile: tt.profile, ReasonCode: tt.code,
				Justification: strings.TrimSpace(tt.justification), Duration: tt.wantDuration, Status: ports.BreakGlassActive,
				CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(tt.wantDuration),
			}
			if got != want {
				t.Errorf("Invoke =\n %+v\nwant\n %+v", got, want)
			}
		})
	}
}

// TestInvokeRateLimits walks every limit of prod-emergency (cooldown 30m,
// max_per_user 3, max_per_profile 10, window 24h, escalation_threshold 2)
// at and just past its boundary.
func TestInvokeRateLimits(t *testing.T) {
	t.Parallel()
	rule := testRule(t)
	now := t0.Add(48 * time.Hour)
	const day = 24 * time.Hour
	// others returns n events for prod by other users, an hour apart, the
	// newest an hour ago.
	others := func(first, n int) []ports.BreakGlassEvent {
		var out []ports.BreakGlassEvent
		for i := range n {
			out = append(out, past(first+i, "user"+idN(i)[30:], "prod", now, time.Duration(i+1)*time.Hour))
		}
		return out
	}
	mine := func(events ...ports.BreakGlassEvent) []ports.BreakGlassEvent { return events }
	lapsed := past(1, "alice", "prod", now, 5*time.Hour)
	lapsed.Status = ports.BreakGlassActive // stored active, but its hour ended 4h ago
	stillActive := past(1, "alice", "prod", now, 45*time.Minute)
	stillActive.Status = ports.BreakGlassActive
	activeOther := past(1, "bob", "prod", now, 10*time.Minute)
	activeOther.Status = ports.BreakGlassActive

	tests := []struct {
		name          string
		history       []ports.BreakGlassEvent
		profile       string
		wantErr       []error
		wantMsg       string
		wantEscalated bool
	}{
		{"no history", nil, "prod", nil, "", false},

		// One active event per invoker and profile.
		{"already active", mine(stillActive), "prod", []error{ports.ErrAlreadyExists},
			"alice already has an active break-glass for prod (" + idN(1) + ", until 2026-11-04T09:15:00Z): close it first", false},
		{"active on another profile", mine(stillActive), "prod-eu", nil, "", false},
		{"another user's active event", mine(activeOther), "prod", nil, "", false},
		{"stored active but lapsed", mine(lapsed), "prod", nil, "", false},

		// Cooldown: 30m from the start of alice's previous event for the profile.
		{"cooldown just not over", mine(past(1, "alice", "prod", now, 30*time.Minute-time.Nanosecond)), "prod", []error{ErrRateLimited, ErrForbidden},
			"cooldown: next break-glass for prod allowed at 2026-11-04T09:00:01Z (30m after the last one, at 2026-11-04T08:30:00Z)", false},
		{"cooldown exactly over", mine(past(1, "alice", "prod", now, 30*time.Minute)), "prod", nil, "", false},
		{"cooldown is per profile", mine(past(1, "alice", "prod-eu", now, time.Minute)), "prod", nil, "", false},
		{"cooldown is per invoker", mine(past(1, "bob", "prod", now, time.Minute)), "prod", nil, "", false},

		// max_per_user 3 in 24h, across the rule's profiles.
		{"two in the window", mine(past(1, "alice", "prod", now, 2*time.Hour), past(2, "alice", "prod-eu", now, 3*time.Hour)), "prod", nil, "", true},
		{"three in the window", mine(past(1, "alice", "prod", now, 2*time.Hour), past(2, "alice", "prod-eu", now, 3*time.Hour), past(3, "alice", "prod", now, day-time.Nanosecond)), "prod",
			[]error{ErrRateLimited, ErrForbidden},
			"alice has invoked break-glass 3 times in the last 24h, the most rule prod-emergency allows (max_per_user 3): next allowed at 2026-11-04T09:00:01Z", false},
		{"the third is exactly a window old", mine(past(1, "alice", "prod", now, 2*time.Hour), past(2, "alice", "prod-eu", now, 3*time.Hour), past(3, "alice", "prod", now, day)), "prod", nil, "", true},
		{"events on profiles outside the rule do not count", mine(past(1, "alice", "prod", now, 2*time.Hour), past(2, "alice", "dev", now, 3*time.Hour), past(3, "alice", "dev", now, 4*time.Hour)), "prod", nil, "", false},
		{"duplicates count once", append(mine(past(1, "alice", "prod", now, 2*time.Hour), past(2, "alice", "prod", now, 3*time.Hour)), past(1, "alice", "prod", now, 2*time.Hour), past(2, "alice", "prod", now, 3*time.Hour)), "prod", nil, "", true},

		// max_per_profile 10 in 24h, by anyone.
		{"nine for the profile", others(1, 9), "prod", nil, "", false},
		{"ten for the profile", others(1, 10), "prod", []error{ErrRateLimited, ErrForbidden},
			"break-glass for prod was invoked 10 times in the last 24h, the most rule prod-emergency allows (max_per_profile 10): next allowed at 2026-11-04T23:00:00Z", false},
		{"ten, the oldest exactly a window old", append(others(1, 9), past(20, "zed", "prod", now, day)), "prod", nil, "", false},
		{"ten for another profile", others(1, 10), "prod-eu", nil, "", false},

		// Escalation: above 2 in the window, this one included.
		{"second event is not escalated", mine(past(1, "alice", "prod", now, 2*time.Hour)), "prod", nil, "", false},
		{"third event is escalated", mine(past(1, "alice", "prod", now, 2*time.Hour), past(2, "alice", "prod-eu", now, 3*time.Hour)), "prod", nil, "", true},
		{"older events do not escalate", mine(past(1, "alice", "prod", now, day), past(2, "alice", "prod-eu", now, day+time.Hour)), "prod", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, warnings, err := Invoke(testID, alice, tt.profile, ReasonIncident, justification, time.Hour, rule, tt.history, now)
			wantError(t, err, tt.wantErr, tt.wantMsg)
			if len(tt.wantErr) > 0 {
				return
			}
			if got.Escalated != tt.wantEscalated {
				t.Fatalf("Escalated = %v, want %v", got.Escalated, tt.wantEscalated)
			}
			escalationWarned := slices.ContainsFunc(warnings, func(w string) bool { return strings.HasPrefix(w, "escalated:") })
			if escalationWarned != tt.wantEscalated {
				t.Fatalf("warnings %q, want an escalation warning: %v", warnings, tt.wantEscalated)
			}
			if tt.wantEscalated && !slices.Contains(warnings,
				"escalated: alice has invoked break-glass 3 times in the last 24h (this one included), above the escalation threshold 2 of rule prod-emergency") {
				t.Fatalf("escalation warning = %q", warnings)
			}
		})
	}
}

func TestInvokeWithoutLimits(t *testing.T) {
	t.Parallel()
	rule := &policy.BreakGlassRule{Name: "open", Users: []string{"alice"}, ReasonCodes: policy.ReasonCodes(), MaxDuration: time.Hour, Window: time.Hour}
	var history []ports.BreakGlassEvent
	for i := range 50 {
		history = append(history, past(i+1, "alice", "prod", t0, time.Duration(i+1)*time.Second))
	}
	got, warnings, err := Invoke(testID, alice, "prod", ReasonOther, justification, time.Hour, rule, history, t0)
	if err != nil || got.Escalated || len(warnings) != 0 {
		t.Fatalf("a rule without limits refused or flagged: %+v %q %v", got, warnings, err)
	}
}

func TestHistorySince(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rule *policy.BreakGlassRule
		want time.Duration
	}{
		{"window longest", &policy.BreakGlassRule{Window: 24 * time.Hour, Cooldown: time.Hour}, 24 * time.Hour},
		{"cooldown longest", &policy.BreakGlassRule{Window: time.Hour, Cooldown: 6 * time.Hour}, 6 * time.Hour},
		{"an active event can be 4h old", &policy.BreakGlassRule{Window: time.Hour, Cooldown: time.Minute}, 4 * time.Hour},
		{"no rule", nil, 4 * time.Hour},
	}
	for _, tt := range tests {
		if got := HistorySince(tt.rule, t0); !got.Equal(t0.Add(-tt.want)) {
			t.Errorf("%s: HistorySince = %s, want %s", tt.name, got, t0.Add(-tt.want))
		}
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	pol := testPolicyParsed(t)
	now := t0.Add(30 * time.Minute)
	ruleFor := func(id ports.Identity) *policy.BreakGlassRule {
		r, _ := pol.BreakGlassRuleFor(id, "prod")
		return r
	}
	closed := active()
	closed.Status, closed.ClosedBy, closed.ClosedReason, closed.UpdatedAt = ports.BreakGlassClosed, "bob", "fixed", t0.Add(10*time.Minute)
	expired := active()
	expired.Status = ports.BreakGlassExpired
	lapsed := active()
	lapsed.ExpiresAt = t0.Add(time.Minute)
	tests := []struct {
		name    string
		e       ports.BreakGlassEvent
		by      ports.Identity
		rule    *policy.BreakGlassRule
		reason  string
		wantErr []error
		wantMsg string
	}{
		{"the invoker", active(), alice, ruleFor(alice), "fixed", nil, ""},
		{"the invoker, no longer in the policy", active(), alice, nil, "fixed", nil, ""},
		{"another user of the rule", active(), bob, ruleFor(bob), "fixed", nil, ""},
		{"a user of a rule for every profile", active(), ports.Identity{Name: "ops"}, ruleFor(ports.Identity{Name: "ops"}), "fixed", nil, ""},
		{"a stranger", active(), mallory, ruleFor(mallory), "fixed", []error{ErrForbidden},
			"mallory cannot close break-glass " + testID + ": only its invoker (alice) or someone the policy lets invoke break-glass for prod can"},
		{"a rule handed in for someone else", active(), mallory, ruleFor(bob), "fixed", []error{ErrForbidden}, "mallory cannot close"},
		{"no reason", active(), alice, nil, "  ", []error{ports.ErrInvalidArgument}, "reason is required"},
		{"reason too long", active(), alice, nil, strings.Repeat("x", 501), []error{ports.ErrInvalidArgument}, "reason is too long"},
		{"nobody", active(), ports.Identity{}, nil, "fixed", []error{ports.ErrInvalidArgument}, "who closes it is required"},
		{"already closed", closed, alice, nil, "again", []error{ports.ErrInvalidTransition},
			"break-glass " + testID + " is already closed (by bob at 2026-11-02T09:10:00Z: fixed)"},
		{"expired", expired, alice, nil, "late", []error{ports.ErrInvalidTransition}, "has already expired (at 2026-11-02T10:00:00Z)"},
		{"lapsed counts as expired", lapsed, alice, nil, "late", []error{ports.ErrInvalidTransition}, "has already expired (at 2026-11-02T09:01:00Z)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Close(tt.e, tt.by, tt.rule, tt.reason, now)
			wantError(t, err, tt.wantErr, tt.wantMsg)
			if len(tt.wantErr) > 0 {
				return
			}
			if got.Status != ports.BreakGlassClosed || got.ClosedBy != tt.by.Name || got.ClosedReason != tt.reason || !got.UpdatedAt.Equal(now) {
				t.Fatalf("Close = %+v", got)
			}
			if Active(got, "alice", "prod", now) {
				t.Fatal("a closed event is active")
			}
		})
	}
}

func TestExpire(t *testing.T) {
	t.Parallel()
	now := t0.Add(time.Hour)
	closed := active()
	closed.Status, closed.ClosedBy = ports.BreakGlassClosed, "alice"
	expired := active()
	expired.Status = ports.BreakGlassExpired
	tests := []struct {
		name    string
		e       ports.BreakGlassEvent
		at      time.Time
		wantErr []error
		wantMsg string
	}{
		{"lapsed", active(), now, nil, ""},
		{"read as expired", expired, now, nil, ""},
		{"not run out", active(), now.Add(-time.Nanosecond), []error{ports.ErrInvalidTransition}, "has not run out: it is active until 2026-11-02T10:00:00Z"},
		{"closed", closed, now, []error{ports.ErrInvalidTransition}, "is already closed (by alice"},
	}
	for _, tt := range tests {
		got, err := Expire(tt.e, tt.at)
		if len(tt.wantErr) == 0 && (err != nil || got.Status != ports.BreakGlassExpired || !got.UpdatedAt.Equal(tt.at)) {
			t.Errorf("%s: Expire = %+v, %v", tt.name, got, err)
			continue
		}
		if len(tt.wantErr) > 0 {
			wantError(t, err, tt.wantErr, tt.wantMsg)
		}
	}
}

func TestActiveAndEffectiveStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		mutate           func(*ports.BreakGlassEvent)
		invoker, profile string
		at               time.Time
		want             bool
	}{
		{"at the start", nil, "alice", "prod", t0, true},
		{"last instant", nil, "alice", "prod", t0.Add(time.Hour - time.Nanosecond), true},
		{"at the end", nil, "alice", "prod", t0.Add(time.Hour), false},
		{"before the start", nil, "alice", "prod", t0.Add(-time.Nanosecond), false},
		{"another invoker", nil, "bob", "prod", t0, false},
		{"another profile", nil, "alice", "prod-eu", t0, false},
		{"no invoker", nil, "", "prod", t0, false},
		{"closed", func(e *ports.BreakGlassEvent) { e.Status = ports.BreakGlassClosed }, "alice", "prod", t0, false},
		{"longer than 4h", func(e *ports.BreakGlassEvent) { e.ExpiresAt = t0.Add(4*time.Hour + time.Second) }, "alice", "prod", t0, false},
		{"exactly 4h", func(e *ports.BreakGlassEvent) { e.ExpiresAt = t0.Add(4 * time.Hour) }, "alice", "prod", t0, true},
	}
	for _, tt := range tests {
		e := active()
		if tt.mutate != nil {
			tt.mutate(&e)
		}
		if got := Active(e, tt.invoker, tt.profile, tt.at); got != tt.want {
			t.Errorf("%s: Active = %v, want %v", tt.name, got, tt.want)
		}
	}
	if EffectiveStatus(active(), t0.Add(time.Hour-time.Nanosecond)) != ports.BreakGlassActive ||
		EffectiveStatus(active(), t0.Add(time.Hour)) != ports.BreakGlassExpired {
		t.Error("EffectiveStatus does not expire at ExpiresAt")
	}
}

func TestReasonCodes(t *testing.T) {
	t.Parallel()
	want := []string{ReasonIncident, ReasonMaintenance, ReasonSecurity, ReasonRecovery, ReasonOther}
	if got := ReasonCodes(); !slices.Equal(got, want) || strings.Join(got, ",") != "incident,maintenance,security,recovery,other" {
		t.Fatalf("ReasonCodes = %v", got)
	}
}
