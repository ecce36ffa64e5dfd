package policy

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// SupportedVersion is the only policy file version this package reads.
const SupportedVersion = "1"

// Effect is what a rule declares should happen to a matching request.
type Effect string

// The rule effects. A Decision's final Effect is only ever allow or deny.
const (
	EffectAllow                Effect = "allow"
	EffectDeny                 Effect = "deny"
	EffectRequireApproval      Effect = "require_approval"
	EffectRequireServer        Effect = "require_server"
	EffectRequireServerSession Effect = "require_server_session"
)

var allEffects = []Effect{EffectAllow, EffectDeny, EffectRequireApproval, EffectRequireServer, EffectRequireServerSession}

// Valid reports whether e is one of the known effects.
func (e Effect) Valid() bool {
	for _, known := range allEffects {
		if e == known {
			return true
		}
	}
	return false
}

// Mode is how the credentials are being asked for.
type Mode string

// The request modes.
const (
	ModeServer            Mode = "server"
	ModeCLI               Mode = "cli"
	ModeCredentialProcess Mode = "credential_process"
	// ModeConsole is sentinel login: the credentials become an AWS console
	// sign-in URL. A console session cannot be revoked by Sentinel, so
	// require_server and require_server_session deny it, as they deny cli.
	ModeConsole Mode = "console"
)

var allModes = []Mode{ModeServer, ModeCLI, ModeCredentialProcess, ModeConsole}

// ParseMode returns the Mode named s, which must be spelled exactly.
func ParseMode(s string) (Mode, error) {
	for _, m := range allModes {
		if s == string(m) {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown mode %q: use one of %s", s, joinValues(allModes))
}

// Policy is a parsed policy file.
type Policy struct {
	Version string
	// Admins are who may list and revoke everyone's sessions at a broker
	// (team mode): user entries, names and arn: patterns, matched as a
	// rule's users are (see IsAdmin). Empty means nobody.
	Admins []string
	Rules  []Rule
	// Approvals, BreakGlass and Webhooks are the optional override and
	// notification sections; nil when the file has none.
	Approvals  []ApprovalRule
	BreakGlass []BreakGlassRule
	Webhooks   []Webhook
	// RevokeAtAWS (revoke_at_aws: true) makes every server-revoke also
	// deny the session's credentials at AWS, as --at-aws does.
	RevokeAtAWS bool
	// rulesLine is where the rules key sits, for policy-wide lint warnings.
	rulesLine int
	// adminsLine is where the admins key sits, for its lint warnings.
	adminsLine int

	// Hash is the policy's version as decisions and metrics record it
	// (HashOf the file's bytes); Parse sets it.
	Hash string
}

// IsAdmin reports whether id is one of the policy's admins: an arn: entry
// globs the full principal ARN, any other entry is the exact name, as in a
// rule's users. A nil policy has no admins.
func (p *Policy) IsAdmin(id ports.Identity) bool {
	return p != nil && matchesAnyUser(p.Admins, id)
}

// Rule is one entry of the rules list.
type Rule struct {
	Name   string
	Effect Effect
	// Reason is the rule's own text; Decision.Reason starts with it.
	Reason string
	// MaxServerDuration caps the credential lifetime served in server mode;
	// zero means the rule sets no cap.
	MaxServerDuration time.Duration
	Conditions        Conditions
	// Line is where the rule starts in the file (0 for a rule built in code).
	Line int

	// AllowLongLivedPassThrough lets a server serve credentials passed
	// through unchanged (--no-session, SSO, credential_process) whose real
	// lifetime exceeds MaxServerDuration; without it they are refused.
	AllowLongLivedPassThrough bool
	// SessionStore, on a require_server_session rule, names the store the
	// session must be tracked in (a store identity such as
	// "dynamodb://sentinel-sessions?region=eu-west-1"); empty means any.
	SessionStore string
}

// Conditions must all match for a rule to apply. An empty list, or a nil
// Time, matches anything.
type Conditions struct {
	Profiles []string
	Users    []string
	Time     *TimeWindow
	Modes    []Mode
}

// TimeWindow matches request times by weekday and wall-clock hours in one
// time zone.
type TimeWindow struct {
	// Days lists the weekdays the window starts on; empty means every day.
	Days []time.Weekday
	// Hours is nil for whole days.
	Hours *HourRange
	// Location is the zone the days and hours are read in; nil means UTC.
	Location *time.Location
}

// HourRange is the half-open window [Start, End) of wall-clock time. When
// Start > End it runs past midnight into the next day.
type HourRange struct {
	Start, End TimeOfDay
}

// TimeOfDay is minutes after midnight, 0..1439.
type TimeOfDay int

// String formats t as HH:MM.
func (t TimeOfDay) String() string {
	return fmt.Sprintf("%02d:%02d", int(t)/60, int(t)%60)
}

// Request is everything policy looks at.
type Request struct {
	Identity ports.Identity
	Profile  string
	Mode     Mode
	// Time is "now"; Evaluate reads no clock of its own.
	Time time.Time
	// SessionTracking is whether this server run records a session that can be revoked.
	SessionTracking bool
	// SessionStore is the identity of the store the session is tracked in
	// (see Rule.SessionStore); empty when tracking is off.
	SessionStore string
}

// Decision is the outcome of Evaluate.
type Decision struct {
	// Effect is final: always EffectAllow or EffectDeny.
	Effect Effect
	// RuleEffect is the matched rule's declared effect ("" when none matched).
	RuleEffect Effect
	// Rule is the matched rule's name ("" when none matched).
	Rule string
	// RuleIndex is the matched rule's position in Policy.Rules (-1 when none).
	RuleIndex int
	Reason    string
	// MaxServerDuration is the matched rule's cap (zero when none).
	MaxServerDuration time.Duration
	// The Requires flags are set only on a deny, each naming a missing piece.
	RequiresServerMode      bool
	RequiresSessionTracking bool
	RequiresApproval        bool
	// RequiresSessionStore is the store a require_server_session rule names,
	// set on a deny because the session is tracked elsewhere (or not at all).
	RequiresSessionStore string
	// AllowLongLivedPassThrough is the matched rule's opt-in (see Rule).
	AllowLongLivedPassThrough bool
}

// Allowed reports whether the final effect is allow.
func (d Decision) Allowed() bool { return d.Effect == EffectAllow }

// decisionJSON is the wire form of Decision; the keys are part of the
// decision log's contract.
type decisionJSON struct {
	Effect                    Effect `json:"effect"`
	RuleEffect                Effect `json:"rule_effect"`
	Rule                      string `json:"rule"`
	RuleIndex                 int    `json:"rule_index"`
	Reason                    string `json:"reason"`
	MaxServerDuration         string `json:"max_server_duration"`
	RequiresServerMode        bool   `json:"requires_server_mode"`
	RequiresSessionTracking   bool   `json:"requires_session_tracking"`
	RequiresApproval          bool   `json:"requires_approval"`
	RequiresSessionStore      string `json:"requires_session_store"`
	AllowLongLivedPassThrough bool   `json:"allow_long_lived_passthrough"`
}

// MarshalJSON writes the decision with snake_case keys and the duration as a
// Go duration string ("" when unset).
func (d Decision) MarshalJSON() ([]byte, error) {
	w := decisionJSON{
		Effect:                    d.Effect,
		RuleEffect:                d.RuleEffect,
		Rule:                      d.Rule,
		RuleIndex:                 d.RuleIndex,
		Reason:                    d.Reason,
		RequiresServerMode:        d.RequiresServerMode,
		RequiresSessionTracking:   d.RequiresSessionTracking,
		RequiresApproval:          d.RequiresApproval,
		RequiresSessionStore:      d.RequiresSessionStore,
		AllowLongLivedPassThrough: d.AllowLongLivedPassThrough,
	}
	if d.MaxServerDuration != 0 {
		w.MaxServerDuration = d.MaxServerDuration.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Decision) UnmarshalJSON(data []byte) error {
	var w decisionJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	var dur time.Duration
	if w.MaxServerDuration != "" {
		var err error
		if dur, err = time.ParseDuration(w.MaxServerDuration); err != nil {
			return fmt.Errorf("decision: max_server_duration: %w", err)
		}
	}
	*d = Decision{
		Effect:                    w.Effect,
		RuleEffect:                w.RuleEffect,
		Rule:                      w.Rule,
		RuleIndex:                 w.RuleIndex,
		Reason:                    w.Reason,
		MaxServerDuration:         dur,
		RequiresServerMode:        w.RequiresServerMode,
		RequiresSessionTracking:   w.RequiresSessionTracking,
		RequiresApproval:          w.RequiresApproval,
		RequiresSessionStore:      w.RequiresSessionStore,
		AllowLongLivedPassThrough: w.AllowLongLivedPassThrough,
	}
	return nil
}

func joinValues[T ~string](values []T) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = string(v)
	}
	return strings.Join(parts, ", ")
}
