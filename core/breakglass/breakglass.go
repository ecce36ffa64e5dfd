// Package breakglass holds the pure rules for break-glass events: invoking
// one under a policy rule and its rate limits, closing and expiring it, and
// the lookup the server runs on every request.
//
// # Rate limits
//
// Every limit counts events by their start (CreatedAt), whatever became of
// them (active, closed or expired), over the half-open window
// (now-window, now]: an event exactly window old no longer counts.
//
//   - cooldown: the invoker's next event for a profile may start cooldown
//     after the start of their previous one for that profile, not earlier.
//   - max_per_user: the invoker's events on the profiles the rule covers.
//   - max_per_profile: everyone's events on the profile.
//   - escalation_threshold: an event that brings the invoker's count (as for
//     max_per_user, this one included) above the threshold is Escalated.
//
// # Who may close
//
// An event is closed by its invoker, or by anyone the break-glass policy
// lets invoke break-glass for the same profile: the people trusted to open
// the glass are trusted to shut it.
package breakglass

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/ports"
)

// Limits on an event, in characters (runes) and time.
const (
	MinJustification = 20
	MaxJustification = 1000
	// MaxCloseReason bounds the reason given when closing.
	MaxCloseReason = 500
	// MaxDuration is the longest event under any rule.
	MaxDuration = policy.MaxBreakGlassDuration
	// MinDuration is the shortest event.
	MinDuration = time.Minute
	// DefaultDuration is what a command asks for when the user gives none
	// (capped, like any request, to the rule's max_duration).
	DefaultDuration = time.Hour
)

// The reason codes, as the policy spells them.
const (
	ReasonIncident    = policy.ReasonIncident
	ReasonMaintenance = policy.ReasonMaintenance
	ReasonSecurity    = policy.ReasonSecurity
	ReasonRecovery    = policy.ReasonRecovery
	ReasonOther       = policy.ReasonOther
)

// ReasonCodes returns every known reason code, in a fresh slice.
func ReasonCodes() []string { return policy.ReasonCodes() }

var (
	// ErrForbidden: the policy does not let this identity do this. It is
	// policy.ErrForbidden.
	ErrForbidden = policy.ErrForbidden
	// ErrRateLimited: a cooldown or a per-user or per-profile limit refused
	// the invocation. Such errors wrap ErrForbidden too.
	ErrRateLimited = errors.New("rate limited")
)

// HistorySince is how far back Invoke needs the invoker's and the profile's
// events for rule at now: the window, the cooldown, and the longest event
// (so an event still active is seen too), whichever is longest.
func HistorySince(rule *policy.BreakGlassRule, now time.Time) time.Time {
	back := MaxDuration
	if rule != nil {
		back = max(back, rule.Window, rule.Cooldown)
	}
	return now.Add(-back)
}

// Invoke validates a break-glass invocation and returns the new active
// event, with warnings (a capped duration, an escalation). rule is the one
// policy.BreakGlassRuleFor found (nil when none); history holds the
// invoker's and the profile's events since HistorySince (duplicates and
// older events are fine). Refusals wrap ErrForbidden (no rule, reason code
// not allowed), ErrRateLimited and ErrForbidden (cooldown, max_per_user,
// max_per_profile), ports.ErrAlreadyExists (an event still active for this
// invoker and profile) or ports.ErrInvalidArgument (malformed input).
func Invoke(id string, invoker ports.Identity, profile, reasonCode, justification string, d time.Duration,
	rule *policy.BreakGlassRule, history []ports.BreakGlassEvent, now time.Time,
) (ports.BreakGlassEvent, []string, error) {
	fail := func(err error) (ports.BreakGlassEvent, []string, error) { return ports.BreakGlassEvent{}, nil, err }
	if err := record.ValidateID("break-glass", id); err != nil {
		return fail(err)
	}
	if strings.TrimSpace(invoker.Name) == "" {
		return fail(fmt.Errorf("break-glass: the invoker has no name: %w", ports.ErrInvalidArgument))
	}
	if strings.TrimSpace(profile) == "" {
		return fail(fmt.Errorf("break-glass: a profile is required: %w", ports.ErrInvalidArgument))
	}
	if !rule.Allows(invoker, profile) {
		return fail(fmt.Errorf("no break-glass rule lets %s invoke break-glass for %s: %w", invoker.Name, profile, ErrForbidden))
	}
	if !policy.ValidReasonCode(reasonCode) {
		return fail(fmt.Errorf("unknown reason code %q: use one of %s: %w", reasonCode, strings.Join(rule.ReasonCodes, ", "), ports.ErrInvalidArgument))
	}
	if !rule.AllowsReason(reasonCode) {
		return fail(fmt.Errorf("reason code %s is not allowed for %s: use one of %s (rule %s): %w",
			reasonCode, profile, strings.Join(rule.ReasonCodes, ", "), rule.Name, ErrForbidden))
	}
	justification = strings.TrimSpace(justification)
	if err := record.CheckLength("justification", justification, MinJustification, MaxJustification, "describe the emergency"); err != nil {
		return fail(err)
	}

	var warnings []string
	limit := min(MaxDuration, rule.MaxDuration)
	if limit <= 0 {
		limit = MaxDuration
	}
	switch {
	case d < MinDuration:
		return fail(fmt.Errorf("break-glass: duration %s is too short: ask for %s to %s: %w",
			d, policy.FormatDuration(MinDuration), policy.FormatDuration(limit), ports.ErrInvalidArgument))
	case d > limit:
		warnings = append(warnings, fmt.Sprintf("duration %s capped to the %s maximum of rule %s",
			policy.FormatDuration(d), policy.FormatDuration(limit), rule.Name))
		d = limit
	}

	counts, err := checkLimits(invoker.Name, profile, rule, history, now)
	if err != nil {
		return fail(err)
	}
	escalated := rule.EscalationThreshold > 0 && counts.user+1 > rule.EscalationThreshold
	if escalated {
		warnings = append(warnings, fmt.Sprintf("escalated: %s has invoked break-glass %d times in the last %s (this one included), above the escalation threshold %d of rule %s",
			invoker.Name, counts.user+1, policy.FormatDuration(rule.Window), rule.EscalationThreshold, rule.Name))
	}
	return ports.BreakGlassEvent{
		ID:            id,
		Invoker:       invoker.Name,
		InvokerARN:    invoker.ARN,
		Profile:       profile,
		ReasonCode:    reasonCode,
		Justification: justification,
		Duration:      d,
		Status:        ports.BreakGlassActive,
		Escalated:     escalated,
		CreatedAt:     now,
		UpdatedAt:     now,
		ExpiresAt:     now.Add(d),
	}, warnings, nil
}

// windowCounts are the events that count against the rule's limits.
type windowCounts struct {
	user, profile int
}

// checkLimits applies the one-active rule and the rate limits to history.
func checkLimits(invoker, profile string, rule *policy.BreakGlassRule, history []ports.BreakGlassEvent, now time.Time) (windowCounts, error) {
	windowStart := now.Add(-rule.Window)
	seen := map[string]bool{}
	var userTimes, profileTimes []time.Time
	var last time.Time
	for _, e := range history {
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		mine := e.Invoker == invoker
		if mine && e.Profile == profile {
			if EffectiveStatus(e, now) == ports.BreakGlassActive {
				return windowCounts{}, fmt.Errorf("%s already has an active break-glass for %s (%s, until %s): close it first, or let it expire: %w",
					invoker, profile, e.ID, stamp(e.ExpiresAt), ports.ErrAlreadyExists)
			}
			if e.CreatedAt.After(last) {
				last = e.CreatedAt
			}
		}
		if !e.CreatedAt.After(windowStart) {
			continue
		}
		if mine && rule.Covers(e.Profile) {
			userTimes = append(userTimes, e.CreatedAt)
		}
		if e.Profile == profile {
			profileTimes = append(profileTimes, e.CreatedAt)
		}
	}
	if rule.Cooldown > 0 && !last.IsZero() && now.Before(last.Add(rule.Cooldown)) {
		return windowCounts{}, fmt.Errorf("cooldown: next break-glass for %s allowed at %s (%s after the last one, at %s): %w: %w",
			profile, stampUp(last.Add(rule.Cooldown)), policy.FormatDuration(rule.Cooldown), stamp(last), ErrRateLimited, ErrForbidden)
	}
	if rule.MaxPerUser > 0 && len(userTimes) >= rule.MaxPerUser {
		return windowCounts{}, fmt.Errorf("%s has invoked break-glass %d times in the last %s, the most rule %s allows (max_per_user %d): next allowed at %s: %w: %w",
			invoker, len(userTimes), policy.FormatDuration(rule.Window), rule.Name, rule.MaxPerUser,
			stampUp(nextSlot(userTimes, rule.MaxPerUser, rule.Window)), ErrRateLimited, ErrForbidden)
	}
	if rule.MaxPerProfile > 0 && len(profileTimes) >= rule.MaxPerProfile {
		return windowCounts{}, fmt.Errorf("break-glass for %s was invoked %d times in the last %s, the most rule %s allows (max_per_profile %d): next allowed at %s: %w: %w",
			profile, len(profileTimes), policy.FormatDuration(rule.Window), rule.Name, rule.MaxPerProfile,
			stampUp(nextSlot(profileTimes, rule.MaxPerProfile, rule.Window)), ErrRateLimited, ErrForbidden)
	}
	return windowCounts{user: len(userTimes), profile: len(profileTimes)}, nil
}

// nextSlot is when enough of times (all inside the window, at least limit
// of them) have left the window for one more event to fit under limit.
func nextSlot(times []time.Time, limit int, window time.Duration) time.Time {
	sorted := slices.Clone(times)
	slices.SortFunc(sorted, func(a, b time.Time) int { return a.Compare(b) })
	return sorted[len(sorted)-limit].Add(window)
}

// Close moves an effectively active event to closed. by must be the
// invoker, or allowed by rule (the rule policy.BreakGlassRuleFor found for by
// and the event's profile; nil when none) to invoke break-glass for the
// event's profile. A closed or expired event is refused with
// ports.ErrInvalidTransition; anyone else with ErrForbidden.
func Close(e ports.BreakGlassEvent, by ports.Identity, rule *policy.BreakGlassRule, reason string, now time.Time) (ports.BreakGlassEvent, error) {
	if strings.TrimSpace(by.Name) == "" {
		return ports.BreakGlassEvent{}, fmt.Errorf("close break-glass %s: who closes it is required: %w", e.ID, ports.ErrInvalidArgument)
	}
	reason = strings.TrimSpace(reason)
	if err := record.CheckLength("reason", reason, 1, MaxCloseReason, "say why it is closed"); err != nil {
		return ports.BreakGlassEvent{}, fmt.Errorf("close break-glass %s: %w", e.ID, err)
	}
	if status := EffectiveStatus(e, now); status != ports.BreakGlassActive {
		return ports.BreakGlassEvent{}, stateError(e, status)
	}
	if by.Name != e.Invoker && !rule.Allows(by, e.Profile) {
		return ports.BreakGlassEvent{}, fmt.Errorf("%s cannot close break-glass %s: only its invoker (%s) or someone the policy lets invoke break-glass for %s can: %w",
			by.Name, e.ID, e.Invoker, e.Profile, ErrForbidden)
	}
	e.Status = ports.BreakGlassClosed
	e.ClosedBy = by.Name
	e.ClosedReason = reason
	e.UpdatedAt = now
	return e, nil
}

// Expire moves a lapsed active event to expired, so the store holds what
// readers already see. Stores return a lapsed event as expired, so an
// expired one is accepted too (writing it again is harmless). An event that
// has not run out, or is closed, is refused with ports.ErrInvalidTransition.
func Expire(e ports.BreakGlassEvent, now time.Time) (ports.BreakGlassEvent, error) {
	switch e.Status {
	case ports.BreakGlassActive:
	case ports.BreakGlassExpired:
		e.UpdatedAt = now
		return e, nil
	default:
		return ports.BreakGlassEvent{}, stateError(e, e.Status)
	}
	if !e.Lapsed(now) {
		return ports.BreakGlassEvent{}, fmt.Errorf("break-glass %s has not run out: it is active until %s: %w", e.ID, stamp(e.ExpiresAt), ports.ErrInvalidTransition)
	}
	e.Status = ports.BreakGlassExpired
	e.UpdatedAt = now
	return e, nil
}

// EffectiveStatus is the status e has at now: a lapsed active event is expired.
func EffectiveStatus(e ports.BreakGlassEvent, now time.Time) ports.BreakGlassStatus {
	if e.Lapsed(now) {
		return ports.BreakGlassExpired
	}
	return e.Status
}

// Active reports whether e lets invoker use profile at now: active, inside
// [CreatedAt, ExpiresAt), and no longer than MaxDuration (a record these
// rules could never have written is not honoured).
func Active(e ports.BreakGlassEvent, invoker, profile string, now time.Time) bool {
	return invoker != "" && e.Invoker == invoker && e.Profile == profile &&
		EffectiveStatus(e, now) == ports.BreakGlassActive &&
		!e.CreatedAt.IsZero() && !now.Before(e.CreatedAt) && now.Before(e.ExpiresAt) &&
		e.ExpiresAt.Sub(e.CreatedAt) <= MaxDuration
}

func stateError(e ports.BreakGlassEvent, status ports.BreakGlassStatus) error {
	var msg string
	switch status {
	case ports.BreakGlassClosed:
		msg = fmt.Sprintf("is already closed (by %s at %s: %s)", e.ClosedBy, stamp(e.UpdatedAt), e.ClosedReason)
	case ports.BreakGlassExpired:
		msg = fmt.Sprintf("has already expired (at %s)", stamp(e.ExpiresAt))
	case ports.BreakGlassActive:
		msg = "is still active"
	default:
		msg = fmt.Sprintf("has unknown status %q", status)
	}
	return fmt.Errorf("break-glass %s %s: %w", e.ID, msg, ports.ErrInvalidTransition)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// stampUp shows a "not before" time rounded up to the second, so it is
// never earlier than the moment it names.
func stampUp(t time.Time) string {
	if s := t.Truncate(time.Second); !s.Equal(t) {
		t = s.Add(time.Second)
	}
	return stamp(t)
}
