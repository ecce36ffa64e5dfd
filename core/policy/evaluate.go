package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// NoMatchReason is the reason of the default deny.
const NoMatchReason = "no matching rule"

// Evaluate returns the decision for r: the first rule whose conditions all
// match decides; no match is a deny. It is pure and reads r.Time as now.
func (p *Policy) Evaluate(r Request) Decision {
	if p != nil {
		for i := range p.Rules {
			rule := &p.Rules[i]
			if rule.Conditions.Match(r) {
				return decide(i, rule, r)
			}
		}
	}
	return Decision{Effect: EffectDeny, RuleIndex: -1, Reason: NoMatchReason}
}

// decide turns the matched rule's declared effect into allow or deny for this
// request. Flags are set only on a deny, one per missing piece.
func decide(index int, rule *Rule, r Request) Decision {
	d := Decision{
		Effect:                    EffectDeny,
		RuleEffect:                rule.Effect,
		Rule:                      rule.Name,
		RuleIndex:                 index,
		Reason:                    rule.Reason,
		MaxServerDuration:         rule.MaxServerDuration,
		AllowLongLivedPassThrough: rule.AllowLongLivedPassThrough,
	}
	if d.Reason == "" {
		d.Reason = fmt.Sprintf("matched rule %q", rule.Name)
	}
	var missing []string
	switch rule.Effect {
	case EffectAllow:
		d.Effect = EffectAllow
	case EffectDeny:
	case EffectRequireApproval:
		d.RequiresApproval = true
		missing = append(missing, "approval")
	case EffectRequireServer:
		if r.Mode == ModeServer {
			d.Effect = EffectAllow
		} else {
			d.RequiresServerMode = true
			missing = append(missing, "server mode")
		}
	case EffectRequireServerSession:
		d.RequiresServerMode = r.Mode != ModeServer
		d.RequiresSessionTracking = !r.SessionTracking
		if d.RequiresServerMode {
			missing = append(missing, "server mode")
		}
		if d.RequiresSessionTracking {
			missing = append(missing, "session tracking")
		}
		if rule.SessionStore != "" && r.SessionStore != rule.SessionStore {
			d.RequiresSessionStore = rule.SessionStore
			where := "nowhere"
			if r.SessionStore != "" {
				where = r.SessionStore
			}
			missing = append(missing, fmt.Sprintf("sessions tracked in store %s, not %s", rule.SessionStore, where))
		}
		if len(missing) == 0 {
			d.Effect = EffectAllow
		}
	default:
		// Only a hand-built policy can get here; fail closed.
		missing = append(missing, fmt.Sprintf("a known effect (rule has %q)", rule.Effect))
	}
	if len(missing) > 0 {
		d.Reason += " (denied: requires " + strings.Join(missing, " and ") + ")"
	}
	return d
}

// Match reports whether every condition holds for r.
func (c Conditions) Match(r Request) bool {
	return (len(c.Profiles) == 0 || slices.Contains(c.Profiles, r.Profile)) &&
		(len(c.Modes) == 0 || slices.Contains(c.Modes, r.Mode)) &&
		(len(c.Users) == 0 || matchesAnyUser(c.Users, r.Identity)) &&
		(c.Time == nil || c.Time.Match(r.Time))
}

// matchesAnyUser: "arn:" entries glob the full principal ARN, anything else
// is the exact name. An identity with an empty ARN (OS) never matches an ARN entry.
func matchesAnyUser(entries []string, id ports.Identity) bool {
	for _, e := range entries {
		if isARNEntry(e) {
			if id.ARN != "" && globMatch(e, id.ARN) {
				return true
			}
		} else if id.Name != "" && e == id.Name {
			return true
		}
	}
	return false
}

func isARNEntry(entry string) bool { return strings.HasPrefix(entry, "arn:") }

// globMatch reports whether s matches pattern, where '*' matches any run of
// characters (including none, '/' and ':') and everything else is literal.
// It backtracks only to the last star, so it runs in O(len(pattern)*len(s)).
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			mark++
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Match reports whether t falls in the window. Days and hours are read on
// the wall clock of the window's zone; an overnight window belongs to the day
// it starts on, so friday 22:00-06:00 covers Saturday 03:00.
func (w *TimeWindow) Match(t time.Time) bool {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	local := t.In(loc)
	day := local.Weekday()
	if w.Hours == nil {
		return w.onDay(day)
	}
	now := TimeOfDay(local.Hour()*60 + local.Minute())
	start, end := w.Hours.Start, w.Hours.End
	switch {
	case start < end:
		return now >= start && now < end && w.onDay(day)
	case start > end:
		if now >= start {
			return w.onDay(day)
		}
		// Before end: the window started yesterday.
		return now < end && w.onDay((day+6)%7)
	default:
		return false // [s, s) is empty; Parse rejects it
	}
}

func (w *TimeWindow) onDay(d time.Weekday) bool {
	return len(w.Days) == 0 || slices.Contains(w.Days, d)
}
