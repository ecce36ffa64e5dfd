package policy

import (
	"errors"
	"slices"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// ErrForbidden is what the approval and break-glass rules wrap when the
// policy does not let this identity do this (approve, invoke, close). Both
// packages re-export it, so one errors.Is covers either.
var ErrForbidden = errors.New("forbidden")

// The hard ceilings on override windows, whatever a policy says.
const (
	// MaxApprovalDuration bounds an approved request's access window.
	MaxApprovalDuration = 8 * time.Hour
	// MaxBreakGlassDuration bounds one break-glass event.
	MaxBreakGlassDuration = 4 * time.Hour
	// DefaultBreakGlassWindow is the rate-limit window when a rule sets none.
	DefaultBreakGlassWindow = 24 * time.Hour
	// DefaultWebhookTimeout bounds one delivery attempt when a webhook sets none.
	DefaultWebhookTimeout = 5 * time.Second
	// MaxWebhookTimeout bounds what a webhook may set, so a slow receiver
	// cannot hold a command for long.
	MaxWebhookTimeout = time.Minute
)

// The break-glass reason codes.
const (
	ReasonIncident    = "incident"
	ReasonMaintenance = "maintenance"
	ReasonSecurity    = "security"
	ReasonRecovery    = "recovery"
	ReasonOther       = "other"
)

var reasonCodes = []string{ReasonIncident, ReasonMaintenance, ReasonSecurity, ReasonRecovery, ReasonOther}

// ReasonCodes returns every known break-glass reason code, in a fresh slice.
func ReasonCodes() []string { return slices.Clone(reasonCodes) }

// ValidReasonCode reports whether code is a known reason code (exact spelling).
func ValidReasonCode(code string) bool { return slices.Contains(reasonCodes, code) }

// The webhook event names.
const (
	EventRequestCreated    = "request.created"
	EventRequestApproved   = "request.approved"
	EventRequestDenied     = "request.denied"
	EventBreakGlassInvoked = "breakglass.invoked"
	EventBreakGlassClosed  = "breakglass.closed"
)

var webhookEvents = []string{EventRequestCreated, EventRequestApproved, EventRequestDenied, EventBreakGlassInvoked, EventBreakGlassClosed}

// WebhookEvents returns every event a webhook can receive, in a fresh slice.
func WebhookEvents() []string { return slices.Clone(webhookEvents) }

// ApprovalRule says who may approve requests for some profiles, and when a
// request is approved without a person.
type ApprovalRule struct {
	Name string
	// Profiles the rule covers; empty means every profile.
	Profiles []string
	// Approvers match like a rule's users condition; never empty after Parse.
	Approvers []string
	// AutoApprove is nil when the rule never approves on its own.
	AutoApprove *AutoApprove
	// Line is where the rule starts in the file (0 for one built in code).
	Line int
}

// AutoApprove approves a request at creation when all of its conditions hold.
type AutoApprove struct {
	// Users match like a rule's users condition; never empty after Parse.
	Users []string
	// Time is nil for any time.
	Time *TimeWindow
	// MaxDuration is the longest request approved this way; always set after Parse.
	MaxDuration time.Duration
}

// BreakGlassRule says who may invoke break-glass for some profiles, why, for
// how long, and how often.
type BreakGlassRule struct {
	Name string
	// Profiles the rule covers; empty means every profile.
	Profiles []string
	// Users match like a rule's users condition; never empty after Parse.
	Users []string
	// ReasonCodes allowed. Parse fills in every known code when the file
	// sets none; an empty list allows none.
	ReasonCodes []string
	// MaxDuration is at most MaxBreakGlassDuration (its default).
	MaxDuration time.Duration
	// Cooldown is the least time between two events of one invoker for one
	// profile, counted from the earlier event's start; 0 means none.
	Cooldown time.Duration
	// MaxPerUser and MaxPerProfile bound the events in Window; 0 means no bound.
	MaxPerUser    int
	MaxPerProfile int
	// Window is the rate-limit window (DefaultBreakGlassWindow unless set).
	Window time.Duration
	// EscalationThreshold: an event that brings the invoker's count in Window
	// above it is flagged as escalated; 0 means never.
	EscalationThreshold int
	Line                int
}

// Webhook is one receiver of notification events.
type Webhook struct {
	Name string
	// URL is https, or http to a loopback host only.
	URL string
	// SecretEnv names the environment variable holding the HMAC secret; the
	// secret itself never appears in the policy file.
	SecretEnv string
	// Events sent to this webhook; empty means every event.
	Events []string
	// Timeout bounds one delivery attempt (DefaultWebhookTimeout unless set).
	Timeout time.Duration
	Line    int
}

// Wants reports whether the webhook receives event.
func (w Webhook) Wants(event string) bool {
	return len(w.Events) == 0 || slices.Contains(w.Events, event)
}

// ApprovalRuleFor returns the first approval rule covering profile.
func (p *Policy) ApprovalRuleFor(profile string) (*ApprovalRule, bool) {
	if p == nil {
		return nil, false
	}
	for i := range p.Approvals {
		if r := &p.Approvals[i]; r.Covers(profile) {
			return r, true
		}
	}
	return nil, false
}

// Covers reports whether the rule applies to profile (an empty list covers all).
func (r *ApprovalRule) Covers(profile string) bool {
	return r != nil && profile != "" && (len(r.Profiles) == 0 || slices.Contains(r.Profiles, profile))
}

// IsApprover reports whether id is one of the rule's approvers, matched as
// a rule's users condition matches. It says nothing about whose request it
// is: the approval package refuses self-approval on top of this.
func (r *ApprovalRule) IsApprover(id ports.Identity) bool {
	return r != nil && matchesAnyUser(r.Approvers, id)
}

// AutoApproves reports whether a request by id at time at for d is approved
// by the rule itself: the user matches, at falls in the time window (when
// set), and 0 < d <= MaxDuration.
func (r *ApprovalRule) AutoApproves(id ports.Identity, at time.Time, d time.Duration) bool {
	if r == nil || r.AutoApprove == nil {
		return false
	}
	a := r.AutoApprove
	return d > 0 && d <= a.MaxDuration &&
		matchesAnyUser(a.Users, id) &&
		(a.Time == nil || a.Time.Match(at))
}

// BreakGlassRuleFor returns the first break-glass rule that covers profile
// and lists id among its users.
func (p *Policy) BreakGlassRuleFor(id ports.Identity, profile string) (*BreakGlassRule, bool) {
	if p == nil {
		return nil, false
	}
	for i := range p.BreakGlass {
		if r := &p.BreakGlass[i]; r.Allows(id, profile) {
			return r, true
		}
	}
	return nil, false
}

// Covers reports whether the rule applies to profile (an empty list covers all).
func (r *BreakGlassRule) Covers(profile string) bool {
	return r != nil && profile != "" && (len(r.Profiles) == 0 || slices.Contains(r.Profiles, profile))
}

// Allows reports whether the rule lets id invoke break-glass for profile.
func (r *BreakGlassRule) Allows(id ports.Identity, profile string) bool {
	return r.Covers(profile) && matchesAnyUser(r.Users, id)
}

// AllowsReason reports whether the rule accepts the reason code.
func (r *BreakGlassRule) AllowsReason(code string) bool {
	return r != nil && slices.Contains(r.ReasonCodes, code)
}
