// Package approval holds the pure rules for approval requests: creating one,
// the state machine (approve, deny, cancel, expire) with who may do what,
// auto-approval, and the lookup the server runs on every request.
//
// # Who is "self"
//
// A request records its requester by name only (ports.ApprovalRequest has
// no ARN), the name the server looks approvals up by. An approver is the
// requester, and is refused, when the approver's name equals the recorded
// requester ignoring letter case (IAM user names are unique regardless of
// case) or when the approver's ARN equals it. Being listed as an approver
// never lets anyone approve or deny their own request. Granting rights (the
// requester cancelling) needs the exact name.
package approval

import (
	"fmt"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/ports"
)

// Limits on a request, in characters (runes) and time.
const (
	MinJustification = 10
	MaxJustification = 500
	// MaxComment bounds an approver's comment.
	MaxComment = 500
	// MaxDuration is the longest access window; longer requests are capped.
	MaxDuration = policy.MaxApprovalDuration
	// MinDuration is the shortest access window; shorter requests are refused.
	MinDuration = time.Minute
	// DefaultDuration is what a command asks for when the user gives none.
	DefaultDuration = time.Hour
	// DecisionWindow is how long a pending request waits for a decision.
	DecisionWindow = 24 * time.Hour
)

// AutoApproverPrefix starts the Approver of a request approved by a rule's
// auto_approve ("auto:prod-approvals").
const AutoApproverPrefix = "auto:"

// ErrForbidden: the policy does not let this identity do this (approve its
// own request, approve without being an approver, approve where no rule
// applies, cancel someone else's request). It is policy.ErrForbidden.
var ErrForbidden = policy.ErrForbidden

// NewRequest validates a request and returns it pending, with ExpiresAt the
// decision deadline (now + DecisionWindow). A duration over MaxDuration is
// capped, with a warning; one under MinDuration is refused. The
// justification is stored trimmed. Errors wrap ports.ErrInvalidArgument.
func NewRequest(id string, requester ports.Identity, profile, justification string, d time.Duration, now time.Time) (ports.ApprovalRequest, []string, error) {
	if err := record.ValidateID("request", id); err != nil {
		return ports.ApprovalRequest{}, nil, err
	}
	if strings.TrimSpace(requester.Name) == "" {
		return ports.ApprovalRequest{}, nil, fmt.Errorf("new request: the requester has no name: %w", ports.ErrInvalidArgument)
	}
	if strings.TrimSpace(profile) == "" {
		return ports.ApprovalRequest{}, nil, fmt.Errorf("new request: a profile is required: %w", ports.ErrInvalidArgument)
	}
	justification = strings.TrimSpace(justification)
	if err := record.CheckLength("justification", justification, MinJustification, MaxJustification, "say why you need access"); err != nil {
		return ports.ApprovalRequest{}, nil, err
	}
	var warnings []string
	switch {
	case d < MinDuration:
		return ports.ApprovalRequest{}, nil, fmt.Errorf("new request: duration %s is too short: ask for %s to %s: %w",
			d, policy.FormatDuration(MinDuration), policy.FormatDuration(MaxDuration), ports.ErrInvalidArgument)
	case d > MaxDuration:
		warnings = append(warnings, fmt.Sprintf("duration %s capped to the %s maximum", policy.FormatDuration(d), policy.FormatDuration(MaxDuration)))
		d = MaxDuration
	}
	return ports.ApprovalRequest{
		ID:            id,
		Requester:     requester.Name,
		RequesterARN:  requester.ARN,
		Profile:       profile,
		Justification: justification,
		Duration:      d,
		Status:        ports.RequestPending,
		CreatedAt:     now,
		UpdatedAt:     now,
		ExpiresAt:     now.Add(DecisionWindow),
	}, warnings, nil
}
