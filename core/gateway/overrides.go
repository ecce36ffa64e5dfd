package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// Override kinds, as the decision log writes them ("approval:ID").
const (
	overrideApproval   = "approval"
	overrideBreakGlass = "breakglass"
)

// override is an approval or break-glass grant that applies to the request.
type override struct {
	kind      string // overrideApproval or overrideBreakGlass
	id        string
	expiresAt time.Time
}

// label is the decision log's form, "approval:ID" or "breakglass:ID".
func (o override) label() string {
	if o.kind == "" {
		return ""
	}
	return o.kind + ":" + o.id
}

// gate is the part of a policy decision that overrides look at.
type gate struct {
	// ruleEffect is the matched rule's effect; empty when no rule matched.
	ruleEffect policy.Effect
	// allowed is the policy's own answer.
	allowed bool
}

// gateOf is the part of d that overrides look at.
func gateOf(d policy.Decision) gate {
	return gate{ruleEffect: d.RuleEffect, allowed: d.Effect == policy.EffectAllow}
}

// overrideResult is the decision after overrides.
type overrideResult struct {
	allowed bool
	// applied is the override that lifted a deny; zero when none did.
	applied override
}

// windowApplies reports whether an approval or break-glass is what allowed
// the request, so the time left in its window caps the served duration.
func (r overrideResult) windowApplies() bool { return r.applied.kind != "" }

// overridable reports whether an approval or break-glass could lift g's
// denial, so callers look overrides up only when they can matter.
func overridable(g gate) bool {
	return !g.allowed && (g.ruleEffect == policy.EffectDeny || g.ruleEffect == policy.EffectRequireApproval)
}

// applyOverrides decides whether an approval or break-glass lifts a denial.
// Either lifts a deny or require_approval rule outcome; neither ever lifts
// require_server or require_server_session (those ask for a different mode,
// not a permission), nor the default deny when no rule matched. An allow
// stays an allow with nothing applied. Overrides without an id, of an unknown
// kind, or expired at now (a zero expiresAt counts as expired) are ignored.
// An approval is preferred to break-glass when both apply, so break-glass is
// only recorded, and only caps the duration, when it was needed.
func applyOverrides(g gate, overrides []override, now time.Time) overrideResult {
	if g.allowed {
		return overrideResult{allowed: true}
	}
	if !overridable(g) {
		return overrideResult{}
	}
	for _, kind := range []string{overrideApproval, overrideBreakGlass} {
		for _, o := range overrides {
			if o.kind == kind && o.id != "" && now.Before(o.expiresAt) {
				return overrideResult{allowed: true, applied: o}
			}
		}
	}
	return overrideResult{}
}

// overrides gathers the approval and break-glass grants that apply now.
// A lookup that fails never grants access.
func (g *Gateway) overrides(ctx context.Context, gt gate, now time.Time) []override {
	if !overridable(gt) {
		return nil
	}
	// Only here, off the allow path, is a timer worth its cost.
	ctx, cancel := context.WithTimeout(ctx, StoreBudget)
	defer cancel()
	who := g.cfg.Identity
	var found []override
	if g.deps.Approvals != nil {
		a, err := g.deps.Approvals.ActiveApproval(ctx, who, g.cfg.Profile, now)
		if err == nil {
			found = append(found, override{kind: overrideApproval, id: a.ID, expiresAt: a.ExpiresAt})
		} else if !errors.Is(err, ports.ErrNotFound) {
			g.deps.Logger.Warn("approval lookup failed; not applying it", "error", err)
		}
	}
	if g.deps.BreakGlass != nil {
		bg, err := g.deps.BreakGlass.ActiveBreakGlass(ctx, who, g.cfg.Profile, now)
		if err == nil {
			found = append(found, override{kind: overrideBreakGlass, id: bg.ID, expiresAt: bg.ExpiresAt})
		} else if !errors.Is(err, ports.ErrNotFound) {
			g.deps.Logger.Warn("break-glass lookup failed; not applying it", "error", err)
		}
	}
	return found
}
