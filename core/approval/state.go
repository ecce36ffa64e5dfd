package approval

import (
	"fmt"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/ports"
)

// EffectiveStatus is the status r has at now: a lapsed pending or approved
// request is expired.
func EffectiveStatus(r ports.ApprovalRequest, now time.Time) ports.RequestStatus {
	if r.Lapsed(now) {
		return ports.RequestExpired
	}
	return r.Status
}

// Approve moves a pending request to approved. rule is the approval rule
// for r.Profile (policy.ApprovalRuleFor; nil when there is none). It refuses,
// wrapping ErrForbidden: a request no rule covers, the requester approving
// their own request, and anyone who is not one of the rule's approvers;
// then, wrapping ports.ErrInvalidTransition, a request that is not pending.
// The access window runs from now (approved_at) for r.Duration.
func Approve(r ports.ApprovalRequest, approver ports.Identity, rule *policy.ApprovalRule, comment string, now time.Time) (ports.ApprovalRequest, error) {
	comment = strings.TrimSpace(comment)
	if err := checkDecision(r, approver, rule, comment, "approve"); err != nil {
		return ports.ApprovalRequest{}, err
	}
	if err := requirePending(r, now); err != nil {
		return ports.ApprovalRequest{}, err
	}
	if r.Duration < MinDuration || r.Duration > MaxDuration {
		return ports.ApprovalRequest{}, fmt.Errorf("request %s asks for %s, outside %s to %s: %w",
			r.ID, r.Duration, policy.FormatDuration(MinDuration), policy.FormatDuration(MaxDuration), ports.ErrInvalidArgument)
	}
	r = approved(r, identityLabel(approver), comment, now)
	r.ApproverARN = approver.ARN
	return r, nil
}

// Deny moves a pending request to denied, with the same refusals as Approve
// (a requester withdraws with Cancel instead).
func Deny(r ports.ApprovalRequest, approver ports.Identity, rule *policy.ApprovalRule, comment string, now time.Time) (ports.ApprovalRequest, error) {
	comment = strings.TrimSpace(comment)
	if err := checkDecision(r, approver, rule, comment, "deny"); err != nil {
		return ports.ApprovalRequest{}, err
	}
	if err := requirePending(r, now); err != nil {
		return ports.ApprovalRequest{}, err
	}
	r.Status = ports.RequestDenied
	r.Approver = identityLabel(approver)
	r.ApproverARN = approver.ARN
	r.ApproverComment = comment
	r.UpdatedAt = now
	return r, nil
}

// Cancel moves a request to cancelled. A pending request may be cancelled
// by its requester only (an approver denies it instead); an approved one by
// its requester or one of the approvers of rule (the rule for r.Profile, nil
// when there is none). Other states are terminal (ports.ErrInvalidTransition).
func Cancel(r ports.ApprovalRequest, by ports.Identity, rule *policy.ApprovalRule, now time.Time) (ports.ApprovalRequest, error) {
	if by.Name == "" && by.ARN == "" {
		return ports.ApprovalRequest{}, fmt.Errorf("cancel request %s: who cancels it is required: %w", r.ID, ports.ErrInvalidArgument)
	}
	requester := by.Name != "" && by.Name == r.Requester
	approver := rule.Covers(r.Profile) && rule.IsApprover(by)
	switch status := EffectiveStatus(r, now); status {
	case ports.RequestPending:
		if !requester {
			return ports.ApprovalRequest{}, fmt.Errorf("%s cannot cancel request %s: only its requester (%s) can cancel a pending request; an approver denies it instead: %w",
				identityLabel(by), r.ID, r.Requester, ErrForbidden)
		}
	case ports.RequestApproved:
		if !requester && !approver {
			return ports.ApprovalRequest{}, fmt.Errorf("%s cannot cancel request %s: only its requester (%s) or an approver for profile %s can cancel an approved request: %w",
				identityLabel(by), r.ID, r.Requester, r.Profile, ErrForbidden)
		}
	default:
		return ports.ApprovalRequest{}, stateError(r, status)
	}
	r.Status = ports.RequestCancelled
	r.CancelledBy = identityLabel(by)
	r.UpdatedAt = now
	return r, nil
}

// Expire moves a lapsed request (pending past its decision deadline, or
// approved past its window) to expired, so the store holds what readers
// already see. Stores return a lapsed request as expired, so an expired one
// is accepted too (writing it again is harmless). A request that has not
// run out, or is denied or cancelled, is refused with
// ports.ErrInvalidTransition.
func Expire(r ports.ApprovalRequest, now time.Time) (ports.ApprovalRequest, error) {
	switch r.Status {
	case ports.RequestPending, ports.RequestApproved:
	case ports.RequestExpired:
		r.UpdatedAt = now
		return r, nil
	default:
		return ports.ApprovalRequest{}, stateError(r, r.Status)
	}
	if !r.Lapsed(now) {
		return ports.ApprovalRequest{}, fmt.Errorf("request %s has not run out: it is %s until %s: %w",
			r.ID, r.Status, r.ExpiresAt.UTC().Format(time.RFC3339), ports.ErrInvalidTransition)
	}
	r.Status = ports.RequestExpired
	r.UpdatedAt = now
	return r, nil
}

// AutoApprove approves a freshly created pending request when rule's
// auto_approve matches its requester, now and its duration. The approver is
// recorded as AutoApproverPrefix + rule name. It returns r unchanged and
// false when the rule does not apply.
func AutoApprove(r ports.ApprovalRequest, requester ports.Identity, rule *policy.ApprovalRule, now time.Time) (ports.ApprovalRequest, bool) {
	if r.Status != ports.RequestPending || r.Lapsed(now) || requester.Name == "" || requester.Name != r.Requester ||
		!rule.Covers(r.Profile) || !rule.AutoApproves(requester, now, r.Duration) {
		return r, false
	}
	return approved(r, AutoApproverPrefix+rule.Name, "approved automatically by approval rule "+rule.Name, now), true
}

// Active reports whether r is an approval that lets requester use profile at
// now: approved, inside [ApprovedAt, ExpiresAt). A record that these rules
// could never have written (approved by its own requester, no approver, a
// window longer than MaxDuration) is not honoured.
func Active(r ports.ApprovalRequest, requester, profile string, now time.Time) bool {
	return requester != "" && r.Requester == requester && r.Profile == profile &&
		EffectiveStatus(r, now) == ports.RequestApproved &&
		r.Approver != "" && !strings.EqualFold(r.Approver, r.Requester) &&
		!r.ApprovedAt.IsZero() && !now.Before(r.ApprovedAt) && now.Before(r.ExpiresAt) &&
		r.ExpiresAt.Sub(r.ApprovedAt) <= MaxDuration
}

func approved(r ports.ApprovalRequest, approver, comment string, now time.Time) ports.ApprovalRequest {
	r.Status = ports.RequestApproved
	r.Approver = approver
	r.ApproverComment = comment
	r.ApprovedAt = now
	r.ExpiresAt = now.Add(r.Duration)
	r.UpdatedAt = now
	return r
}

// checkDecision is what Approve and Deny share: who decides, under which rule.
func checkDecision(r ports.ApprovalRequest, who ports.Identity, rule *policy.ApprovalRule, comment, verb string) error {
	if who.Name == "" && who.ARN == "" {
		return fmt.Errorf("%s request %s: who decides is required: %w", verb, r.ID, ports.ErrInvalidArgument)
	}
	if err := record.CheckLength("comment", comment, 0, MaxComment, ""); err != nil {
		return fmt.Errorf("%s request %s: %w", verb, r.ID, err)
	}
	switch {
	case rule == nil:
		return fmt.Errorf("no approval rule covers profile %s: it cannot be approved (add an approvals entry for it to the policy): %w", r.Profile, ErrForbidden)
	case !rule.Covers(r.Profile):
		return fmt.Errorf("approval rule %s does not cover profile %s: %w", rule.Name, r.Profile, ErrForbidden)
	case isSelf(r, who):
		if verb == "deny" {
			return fmt.Errorf("you cannot deny your own request: cancel it instead: %w", ErrForbidden)
		}
		return fmt.Errorf("you cannot approve your own request: another approver for profile %s must: %w", r.Profile, ErrForbidden)
	case !rule.IsApprover(who):
		return fmt.Errorf("%s is not an approver for profile %s (rule %s approvers: %s): %w",
			identityLabel(who), r.Profile, rule.Name, strings.Join(rule.Approvers, ", "), ErrForbidden)
	}
	return nil
}

// isSelf is deliberately loose (see the package doc): refusing a real
// approver by mistake is better than letting anyone approve themselves.
func isSelf(r ports.ApprovalRequest, id ports.Identity) bool {
	return (id.Name != "" && strings.EqualFold(id.Name, r.Requester)) ||
		(id.ARN != "" && (id.ARN == r.Requester || id.ARN == r.RequesterARN))
}

// identityLabel is how an identity is recorded and named in messages.
func identityLabel(id ports.Identity) string {
	if id.Name != "" {
		return id.Name
	}
	return id.ARN
}

func requirePending(r ports.ApprovalRequest, now time.Time) error {
	if status := EffectiveStatus(r, now); status != ports.RequestPending {
		return stateError(r, status)
	}
	return nil
}

// stateError says which state a request is in, for a refused transition.
func stateError(r ports.ApprovalRequest, status ports.RequestStatus) error {
	at := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	var msg string
	switch status {
	case ports.RequestApproved:
		msg = fmt.Sprintf("is already approved (by %s at %s, until %s)", r.Approver, at(r.ApprovedAt), at(r.ExpiresAt))
	case ports.RequestDenied:
		msg = fmt.Sprintf("was denied (by %s)", r.Approver)
	case ports.RequestCancelled:
		msg = "was cancelled"
	case ports.RequestExpired:
		if r.ApprovedAt.IsZero() {
			msg = fmt.Sprintf("has expired (nobody decided by %s)", at(r.ExpiresAt))
		} else {
			msg = fmt.Sprintf("has expired (its access window ended at %s)", at(r.ExpiresAt))
		}
	case ports.RequestPending:
		msg = "is still pending"
	default:
		msg = fmt.Sprintf("has unknown status %q", status)
	}
	return fmt.Errorf("request %s %s: %w", r.ID, msg, ports.ErrInvalidTransition)
}

// Authorized re-checks, at use time, that the policy in force would have let
// r's approver approve it: an approver of the rule covering r.Profile who is
// not the requester, or that rule's auto-approval. The server calls it on
// every request, so a record written straight into the store by someone who
// is not an approver (the original system's hole) grants nothing, and taking
// an approver out of the policy withdraws the approvals they gave.
func Authorized(r ports.ApprovalRequest, pol *policy.Policy) bool {
	rule, ok := pol.ApprovalRuleFor(r.Profile)
	if !ok {
		return false
	}
	requester := ports.Identity{Name: r.Requester, ARN: r.RequesterARN}
	if name, auto := strings.CutPrefix(r.Approver, AutoApproverPrefix); auto {
		return name == rule.Name && rule.AutoApproves(requester, r.ApprovedAt, r.Duration)
	}
	approver := ports.Identity{Name: r.Approver, ARN: r.ApproverARN}
	return rule.IsApprover(approver) && !isSelf(r, approver)
}
