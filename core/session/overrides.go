package session

import "time"

// Override kinds, as the decision log writes them ("approval:ID").
const (
	OverrideApproval   = "approval"
	OverrideBreakGlass = "breakglass"
)

// The rule effects an override can lift. They mirror the policy's effect
// names (allow, deny, require_approval, require_server,
// require_server_session); this package does not import the policy.
const (
	effectDeny            = "deny"
	effectRequireApproval = "require_approval"
)

// Override is an approval or break-glass grant that applies to the request.
type Override struct {
	Kind      string // OverrideApproval or OverrideBreakGlass
	ID        string
	ExpiresAt time.Time
}

// Label is the decision log's form, "approval:ID" or "breakglass:ID".
func (o Override) Label() string {
	if o.Kind == "" {
		return ""
	}
	return o.Kind + ":" + o.ID
}

// Gate is the part of a policy decision that overrides look at.
type Gate struct {
	// RuleEffect is the matched rule's effect; empty when no rule matched.
	RuleEffect string
	// Allowed is the policy's own answer.
	Allowed bool
}

// OverrideResult is the decision after overrides.
type OverrideResult struct {
	Allowed bool
	// Applied is the override that lifted a deny; zero when none did.
	Applied Override
}

// BreakGlassApplies reports whether break-glass is what allowed the request.
func (r OverrideResult) BreakGlassApplies() bool { return r.Applied.Kind == OverrideBreakGlass }

// WindowApplies reports whether an approval or break-glass is what allowed
// the request, so the time left in its window caps the served duration.
func (r OverrideResult) WindowApplies() bool { return r.Applied.Kind != "" }

// Overridable reports whether an approval or break-glass could lift g's
// denial, so callers look overrides up only when they can matter.
func Overridable(g Gate) bool {
	return !g.Allowed && (g.RuleEffect == effectDeny || g.RuleEffect == effectRequireApproval)
}

// ApplyOverrides decides whether an approval or break-glass lifts a denial.
// Either lifts a deny or require_approval rule outcome; neither ever lifts
// require_server or require_server_session (those ask for a different mode,
// not a permission), nor the default deny when no rule matched. An allow
// stays an allow with nothing applied. Overrides without an id, of an unknown
// kind, or expired at now (a zero ExpiresAt counts as expired) are ignored.
// An approval is preferred to break-glass when both apply, so break-glass is
// only recorded, and only caps the duration, when it was needed.
func ApplyOverrides(g Gate, overrides []Override, now time.Time) OverrideResult {
	if g.Allowed {
		return OverrideResult{Allowed: true}
	}
	if !Overridable(g) {
		return OverrideResult{}
	}
	for _, kind := range []string{OverrideApproval, OverrideBreakGlass} {
		for _, o := range overrides {
			if o.Kind == kind && o.ID != "" && now.Before(o.ExpiresAt) {
				return OverrideResult{Allowed: true, Applied: o}
			}
		}
	}
	return OverrideResult{}
}
