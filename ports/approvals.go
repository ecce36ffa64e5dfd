package ports

import (
	"context"
	"time"
)

// RequestStatus is the state of an approval request.
//
//	pending  -> approved | denied | cancelled | expired
//	approved -> cancelled | expired (when its access window ends)
//
// Everything else is terminal.
type RequestStatus string

// The approval request states.
const (
	RequestPending   RequestStatus = "pending"
	RequestApproved  RequestStatus = "approved"
	RequestDenied    RequestStatus = "denied"
	RequestExpired   RequestStatus = "expired"
	RequestCancelled RequestStatus = "cancelled"
)

// Valid reports whether s is one of the known states.
func (s RequestStatus) Valid() bool {
	switch s {
	case RequestPending, RequestApproved, RequestDenied, RequestExpired, RequestCancelled:
		return true
	}
	return false
}

// ApprovalRequest asks a second person for access to a profile.
type ApprovalRequest struct {
	ID        string `json:"id"` // 32 lowercase hex
	Requester string `json:"requester"`
	// RequesterARN is the requester's principal ARN (empty for an OS
	// identity), so a role session under another name is still "self".
	RequesterARN  string        `json:"requester_arn"`
	Profile       string        `json:"profile"`
	Justification string        `json:"justification"`
	Duration      time.Duration `json:"duration"` // the access window once approved
	Status        RequestStatus `json:"status"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
	// ExpiresAt is the decision deadline while pending (created_at + 24h) and
	// the end of the access window once approved (approved_at + duration).
	ExpiresAt time.Time `json:"expires_at"`
	Approver  string    `json:"approver"`
	// ApproverARN is the approver's principal ARN (empty for an OS identity
	// or auto-approval), so the server can re-check ARN-pattern approvers.
	ApproverARN     string    `json:"approver_arn"`
	ApproverComment string    `json:"approver_comment"`
	ApprovedAt      time.Time `json:"approved_at"`
	CancelledBy     string    `json:"cancelled_by"`
	Version         int64     `json:"version"`
}

// Lapsed reports whether a pending or approved request has run out at now.
func (r ApprovalRequest) Lapsed(now time.Time) bool {
	return (r.Status == RequestPending || r.Status == RequestApproved) && !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

// RequestPage is one page of requests, newest (CreatedAt, then ID) first.
type RequestPage struct {
	Requests []ApprovalRequest
	Next     string
}

// ApprovalStore persists approval requests. Same contract style as
// SessionStore: Version 1 on create, conditional update on Version, expiry
// decided on read with the injected clock (a lapsed pending or approved
// request reads as expired, Version unchanged), listings newest first.
type ApprovalStore interface {
	// CreateRequest: ErrAlreadyExists, ErrInvalidArgument.
	CreateRequest(ctx context.Context, r ApprovalRequest) (ApprovalRequest, error)
	// GetRequest: ErrNotFound, ErrCorrupt.
	GetRequest(ctx context.Context, id string) (ApprovalRequest, error)
	// UpdateRequest: ErrNotFound when gone, ErrConflict on a version mismatch.
	UpdateRequest(ctx context.Context, r ApprovalRequest) (ApprovalRequest, error)
	// Listings filter on effective status; ErrInvalidArgument for a bad page.
	ListRequestsByRequester(ctx context.Context, requester string, p Page) (RequestPage, error)
	ListRequestsByProfile(ctx context.Context, profile string, p Page) (RequestPage, error)
	ListRequestsByStatus(ctx context.Context, status RequestStatus, p Page) (RequestPage, error)
	// ExpireLapsedRequests stores expired for every lapsed pending or approved
	// request (conditionally) and returns how many it changed.
	ExpireLapsedRequests(ctx context.Context, now time.Time) (int, error)
}
