package approval

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/workflow"
	"github.com/sentinel-gw/sentinel/ports"
)

// Workflows runs the request workflows (submit, decide, cancel) over the
// ports: every state change goes through UpdateWithRetry, and each step is
// announced to Notifier (nil: nobody) after it is stored. Now is Clock's.
// The CLI and the team server call the same functions.
type Workflows struct {
	Store    ports.ApprovalStore
	Notifier ports.Notifier
	Clock    ports.Clock
}

// Submission is a request as its requester asks for it.
type Submission struct {
	// ID is the new request's id: a fresh 128-bit hex id.
	ID        string
	Requester ports.Identity
	Profile   string
	// Justification is for the approver; Duration the access window asked for.
	Justification string
	Duration      time.Duration
	// Rule is the approval rule for Profile (policy.ApprovalRuleFor); a
	// request no rule covers could never be approved and is refused.
	Rule *policy.ApprovalRule
}

// Draft is a submission validated at one instant, not yet stored: what
// Submit will create, and the warnings (a capped duration) to show first.
type Draft struct {
	Request  ports.ApprovalRequest
	Warnings []string
	sub      Submission
}

// NewDraft validates s at now without touching any store, so bad input is
// refused before anything is opened or written. A submission no rule
// covers is refused with ErrForbidden; malformed input with
// ports.ErrInvalidArgument.
func NewDraft(s Submission, now time.Time) (Draft, error) {
	if !s.Rule.Covers(s.Profile) {
		return Draft{}, NoRule(s.Profile)
	}
	r, warnings, err := NewRequest(s.ID, s.Requester, s.Profile, s.Justification, s.Duration, now)
	if err != nil {
		return Draft{}, err
	}
	return Draft{Request: r, Warnings: warnings, sub: s}, nil
}

// NoRule is the refusal of a request for a profile no approval rule covers.
func NoRule(profile string) error {
	return fmt.Errorf("no approval rule covers profile %s, so a request for it could never be approved (the policy's approvals section names who approves which profiles): %w", profile, ErrForbidden)
}

// Submitted is what Submit stored.
type Submitted struct {
	// Request is the stored request: pending, or approved when AutoApproved.
	Request      ports.ApprovalRequest
	AutoApproved bool
}

// Submit stores d's request, announces it (request.created), and approves
// it at once when its rule's auto_approve matches, judged again under the
// retry loop against the stored record, announcing that too
// (request.approved). A store that refuses the create returns a
// NotRecordedError; a request created but then not auto-approved returns
// the created request (AutoApproved false) with the error.
func (w Workflows) Submit(ctx context.Context, d Draft) (Submitted, error) {
	who, rule := d.sub.Requester, d.sub.Rule
	r, err := w.Store.CreateRequest(ctx, d.Request)
	if err != nil {
		return Submitted{}, workflow.NotRecordedError{What: "request", Err: err}
	}
	workflow.Notify(ctx, w.Notifier, w.Clock, ports.EventRequestCreated, who, &r, nil)
	if _, ok := AutoApprove(r, who, rule, w.Clock.Now()); !ok {
		return Submitted{Request: r}, nil
	}
	approved, err := UpdateWithRetry(ctx, w.Store, r.ID, func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
		next, ok := AutoApprove(cur, who, rule, w.Clock.Now())
		if !ok {
			return cur, fmt.Errorf("request %s no longer qualifies for auto-approval (it is %s)", cur.ID, cur.Status)
		}
		return next, nil
	})
	if err != nil {
		return Submitted{Request: r}, fmt.Errorf("request %s was created but not auto-approved: %w", r.ID, err)
	}
	workflow.Notify(ctx, w.Notifier, w.Clock, ports.EventRequestApproved, ports.Identity{Name: approved.Approver}, &approved, nil)
	return Submitted{Request: approved, AutoApproved: true}, nil
}

// Decision is an approver deciding a request.
type Decision struct {
	// ID is the request's full id.
	ID  string
	Who ports.Identity
	// Approve approves; otherwise the request is denied.
	Approve bool
	Comment string
	// Rule is the approval rule for the request's profile (nil: none).
	Rule *policy.ApprovalRule
}

// Decide approves or denies the request under the retry loop (so it is
// judged against the latest record: an approve racing a cancel loses
// cleanly) and announces it (request.approved or request.denied). Refusals
// are those of Approve and Deny.
func (w Workflows) Decide(ctx context.Context, d Decision) (ports.ApprovalRequest, error) {
	verdict, event := Deny, ports.EventRequestDenied
	if d.Approve {
		verdict, event = Approve, ports.EventRequestApproved
	}
	r, err := UpdateWithRetry(ctx, w.Store, d.ID, func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
		return verdict(cur, d.Who, d.Rule, d.Comment, w.Clock.Now())
	})
	if err != nil {
		return ports.ApprovalRequest{}, err
	}
	workflow.Notify(ctx, w.Notifier, w.Clock, event, d.Who, &r, nil)
	return r, nil
}

// Cancel withdraws the request (its requester) or ends an approved one
// early (its requester or an approver of rule, nil when the policy could
// not be read), under the retry loop. Nothing is announced: there is no
// cancellation event. Refusals are those of Cancel.
func (w Workflows) Cancel(ctx context.Context, id string, who ports.Identity, rule *policy.ApprovalRule) (ports.ApprovalRequest, error) {
	return UpdateWithRetry(ctx, w.Store, id, func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
		return Cancel(cur, who, rule, w.Clock.Now())
	})
}
