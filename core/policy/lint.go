package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Warning is a lint finding: the policy parses, but probably does not say
// what its writer meant.
type Warning struct {
	Rule    string // "" for a policy-wide warning
	Line    int
	Message string
}

func (w Warning) String() string {
	if w.Rule == "" {
		return fmt.Sprintf("line %d: %s", w.Line, w.Message)
	}
	return fmt.Sprintf("line %d: rule %s: %s", w.Line, w.Rule, w.Message)
}

// Lint reports rules that can never match, allows whose profiles cover a
// later deny's (unless the two plainly cannot match the same request, by
// mode or by user name), settings that have no effect, and approval or
// break-glass rules that an earlier one always wins over. It only warns when
// it is certain: a missed warning is better than a false one.
func (p *Policy) Lint() []Warning {
	if p == nil {
		return nil
	}
	var out []Warning
	if len(p.Rules) == 0 {
		out = append(out, Warning{Line: p.rulesLine, Message: "the policy has no rules, so every request is denied"})
	}
	for j := range p.Rules {
		later := &p.Rules[j]
		warn := func(format string, args ...any) {
			out = append(out, Warning{Rule: later.Name, Line: later.Line, Message: fmt.Sprintf(format, args...)})
		}

		unreachable := false
		for i := range j {
			if earlier := &p.Rules[i]; covers(earlier.Conditions, later.Conditions) {
				warn("can never match: rule %s (line %d) matches every request this rule would; move this rule above it or remove it",
					earlier.Name, earlier.Line)
				unreachable = true
				break
			}
		}
		if !unreachable && later.Effect == EffectDeny {
			for i := range j {
				earlier := &p.Rules[i]
				if earlier.Effect == EffectAllow && listCovers(earlier.Conditions.Profiles, later.Conditions.Profiles) &&
					!disjoint(earlier.Conditions, later.Conditions) {
					warn("allow rule %s (line %d) covers every profile of this deny, so requests it matches are allowed before this deny is checked; move the deny above it if the deny should win",
						earlier.Name, earlier.Line)
					break
				}
			}
		}

		if later.Effect == EffectDeny && later.MaxServerDuration > 0 {
			warn("max_server_duration has no effect on a deny rule; remove it")
		}
		if later.AllowLongLivedPassThrough && (later.Effect == EffectDeny || later.MaxServerDuration <= 0) {
			warn("allow_long_lived_passthrough has no effect without max_server_duration on an allowing rule (pass-through is refused only beyond that cap); remove it")
		}
		for _, name := range later.Conditions.Profiles {
			if strings.Contains(name, "*") {
				warn("profile %q: '*' is not a wildcard in profiles (they match exactly); use an empty list to match every profile", name)
			}
		}
		for _, entry := range later.Conditions.Users {
			if literalStar(entry) {
				warn(literalStarMsg, entry)
			}
		}
	}
	for _, entry := range p.Admins {
		if literalStar(entry) {
			out = append(out, Warning{Line: p.adminsLine, Message: "admins: " + fmt.Sprintf(literalStarMsg, entry)})
		}
	}
	return append(out, p.lintOverrides()...)
}

// literalStarMsg warns of a '*' in a user entry where it is literal.
const literalStarMsg = "user %q: '*' is a wildcard only in entries that start with \"arn:\"; this one matches the name literally"

// literalStar reports whether a user entry holds a '*' that is not a wildcard.
func literalStar(entry string) bool { return !isARNEntry(entry) && strings.Contains(entry, "*") }

// lintOverrides reports approval and break-glass rules that can never be
// chosen, and '*' where it is literal.
func (p *Policy) lintOverrides() []Warning {
	var out []Warning
	literalStars := func(line int, what string, profiles, users []string) {
		for _, name := range profiles {
			if strings.Contains(name, "*") {
				out = append(out, Warning{Line: line, Message: fmt.Sprintf(
					"%s: profile %q: '*' is not a wildcard in profiles (they match exactly); use an empty list to match every profile", what, name)})
			}
		}
		for _, entry := range users {
			if literalStar(entry) {
				out = append(out, Warning{Line: line, Message: what + ": " + fmt.Sprintf(literalStarMsg, entry)})
			}
		}
	}
	for j := range p.Approvals {
		later := &p.Approvals[j]
		what := "approval rule " + later.Name
		for i := range j {
			if earlier := &p.Approvals[i]; listCovers(earlier.Profiles, later.Profiles) {
				out = append(out, Warning{Line: later.Line, Message: fmt.Sprintf(
					"%s can never apply: approval rule %s (line %d) covers every profile it does, and the first covering rule is used",
					what, earlier.Name, earlier.Line)})
				break
			}
		}
		users := slices.Clone(later.Approvers)
		if later.AutoApprove != nil {
			users = append(users, later.AutoApprove.Users...)
		}
		literalStars(later.Line, what, later.Profiles, users)
	}
	for j := range p.BreakGlass {
		later := &p.BreakGlass[j]
		what := "break-glass rule " + later.Name
		for i := range j {
			if earlier := &p.BreakGlass[i]; listCovers(earlier.Profiles, later.Profiles) && usersCover(earlier.Users, later.Users) {
				out = append(out, Warning{Line: later.Line, Message: fmt.Sprintf(
					"%s can never apply: break-glass rule %s (line %d) covers every profile and user it does, and the first covering rule is used",
					what, earlier.Name, earlier.Line)})
				break
			}
		}
		literalStars(later.Line, what, later.Profiles, later.Users)
	}
	return out
}

// disjoint reports whether no request can match both a and b, judged only
// where it is plain: modes, or name-only user lists, with nothing in common.
func disjoint(a, b Conditions) bool {
	if len(a.Modes) > 0 && len(b.Modes) > 0 && !slices.ContainsFunc(a.Modes, func(m Mode) bool { return slices.Contains(b.Modes, m) }) {
		return true
	}
	namesOnly := func(users []string) bool { return len(users) > 0 && !slices.ContainsFunc(users, isARNEntry) }
	if namesOnly(a.Users) && namesOnly(b.Users) && !slices.ContainsFunc(a.Users, func(u string) bool { return slices.Contains(b.Users, u) }) {
		return true
	}
	return false
}

// covers reports whether every request matching b also matches a.
func covers(a, b Conditions) bool {
	return listCovers(a.Profiles, b.Profiles) &&
		listCovers(a.Modes, b.Modes) &&
		usersCover(a.Users, b.Users) &&
		timeCovers(a.Time, b.Time)
}

// listCovers: an empty list matches anything, so it covers every list; a
// non-empty list covers only non-empty subsets of itself.
func listCovers[T comparable](a, b []T) bool {
	if len(a) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	for _, v := range b {
		if !slices.Contains(a, v) {
			return false
		}
	}
	return true
}

// usersCover: an entry of b is covered by an equal entry of a, or by an ARN
// glob of a that matches b's text with b's '*' taken literally (then each of
// b's stars falls inside one of a's, so a matches whatever b does).
func usersCover(a, b []string) bool {
	if len(a) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	for _, y := range b {
		covered := slices.ContainsFunc(a, func(x string) bool {
			return x == y || (isARNEntry(x) && isARNEntry(y) && globMatch(x, y))
		})
		if !covered {
			return false
		}
	}
	return true
}

func zoneName(w *TimeWindow) string {
	if w.Location == nil {
		return "UTC"
	}
	return w.Location.String()
}

// timeCovers is deliberately narrow: both windows in the same zone (by
// name), and a's days and hours plainly containing b's.
func timeCovers(a, b *TimeWindow) bool {
	if a == nil {
		return true
	}
	if b == nil || zoneName(a) != zoneName(b) {
		return false
	}
	switch {
	case a.Hours == nil && b.Hours == nil:
		return daysCover(a.Days, b.Days)
	case a.Hours == nil:
		if len(a.Days) == 0 {
			return true
		}
		if b.Hours.Start < b.Hours.End {
			return daysCover(a.Days, b.Days)
		}
		// An overnight window also runs into the next day.
		if len(b.Days) == 0 {
			return false
		}
		for _, d := range b.Days {
			if !slices.Contains(a.Days, d) || !slices.Contains(a.Days, (d+1)%7) {
				return false
			}
		}
		return true
	case b.Hours == nil:
		return false
	case *a.Hours == *b.Hours:
		return daysCover(a.Days, b.Days)
	default:
		within := a.Hours.Start < a.Hours.End && b.Hours.Start < b.Hours.End &&
			a.Hours.Start <= b.Hours.Start && b.Hours.End <= a.Hours.End
		return within && daysCover(a.Days, b.Days)
	}
}

func daysCover(a, b []time.Weekday) bool { return listCovers(a, b) }
