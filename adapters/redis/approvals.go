package redisstore

import (
	"context"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Hash fields of an approval request besides the common ones (codec.go).
const (
	fieldRequester     = "requester"
	fieldRequesterARN  = "requester_arn"
	fieldJustification = "justification"
	fieldDuration      = "duration" // nanoseconds
	fieldApprover      = "approver"
	fieldApproverARN   = "approver_arn"
	fieldApproverNote  = "approver_comment"
	fieldApprovedAt    = "approved_at"
	fieldCancelledBy   = "cancelled_by"
)

// requestKind: {P}:request:<id>, indexed under {P}:idx:request:{requester,profile,status}:<value>.
// Pending and approved requests lapse: the decision deadline, or the end of
// the access window.
var requestKind = newKind(kind[ports.ApprovalRequest]{
	layout: &layout{
		name: "request", noun: "request", plural: "requests", indexSub: "request:",
		ints: []string{fieldDuration, fieldVersion},
		statuses: []string{
			string(ports.RequestPending), string(ports.RequestApproved), string(ports.RequestDenied),
			string(ports.RequestExpired), string(ports.RequestCancelled),
		},
		lapsing: []string{string(ports.RequestPending), string(ports.RequestApproved)},
		expired: string(ports.RequestExpired),
		indexes: []index{
			{name: "requester", fields: []string{fieldRequester}},
			{name: "profile", fields: []string{fieldProfile}},
			{name: "status", fields: []string{fieldStatus}},
		},
		eventPrefix: string(EventRequest) + " ", announceCreate: true,
	},
	encode: func(r ports.ApprovalRequest) []string {
		return []string{
			fieldID, r.ID,
			fieldRequester, r.Requester,
			fieldRequesterARN, r.RequesterARN,
			fieldProfile, r.Profile,
			fieldJustification, r.Justification,
			fieldDuration, encodeInt(int64(r.Duration)),
			fieldStatus, string(r.Status),
			fieldCreated, encodeTime(r.CreatedAt),
			fieldUpdated, encodeTime(r.UpdatedAt),
			fieldExpires, encodeTime(r.ExpiresAt),
			fieldApprover, r.Approver,
			fieldApproverARN, r.ApproverARN,
			fieldApproverNote, r.ApproverComment,
			fieldApprovedAt, encodeTime(r.ApprovedAt),
			fieldCancelledBy, r.CancelledBy,
		}
	},
	read: func(d *decoder) ports.ApprovalRequest {
		return ports.ApprovalRequest{
			ID:              d.text(fieldID),
			Requester:       d.text(fieldRequester),
			RequesterARN:    d.text(fieldRequesterARN),
			Profile:         d.text(fieldProfile),
			Justification:   d.text(fieldJustification),
			Duration:        d.duration(fieldDuration),
			Status:          ports.RequestStatus(d.text(fieldStatus)),
			CreatedAt:       d.time(fieldCreated),
			UpdatedAt:       d.time(fieldUpdated),
			ExpiresAt:       d.time(fieldExpires),
			Approver:        d.text(fieldApprover),
			ApproverARN:     d.text(fieldApproverARN),
			ApproverComment: d.text(fieldApproverNote),
			ApprovedAt:      d.time(fieldApprovedAt),
			CancelledBy:     d.text(fieldCancelledBy),
			Version:         d.int(fieldVersion),
		}
	},
	timesOf: func(r *ports.ApprovalRequest) map[string]*time.Time {
		return map[string]*time.Time{
			fieldCreated: &r.CreatedAt, fieldUpdated: &r.UpdatedAt, fieldExpires: &r.ExpiresAt, fieldApprovedAt: &r.ApprovedAt,
		}
	},
	position:  ports.RequestPosition,
	status:    func(r ports.ApprovalRequest) string { return string(r.Status) },
	setStatus: func(r *ports.ApprovalRequest, st string) { r.Status = ports.RequestStatus(st) },
	version:   func(r *ports.ApprovalRequest) *int64 { return &r.Version },
	lapsed:    ports.ApprovalRequest.Lapsed,
})

// CreateRequest stores in as given with Version 1.
func (s *Store) CreateRequest(ctx context.Context, in ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	return requestKind.create(ctx, s, in)
}

// GetRequest returns the request as it reads now.
func (s *Store) GetRequest(ctx context.Context, id string) (ports.ApprovalRequest, error) {
	return requestKind.get(ctx, s, id)
}

// UpdateRequest replaces the record when the stored Version equals in.Version.
func (s *Store) UpdateRequest(ctx context.Context, in ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	return requestKind.update(ctx, s, in)
}

// ListRequestsByRequester lists the requester's requests, newest first.
func (s *Store) ListRequestsByRequester(ctx context.Context, requester string, p ports.Page) (ports.RequestPage, error) {
	items, next, err := requestKind.listBy(ctx, s, "requester", requester, p)
	return ports.RequestPage{Requests: items, Next: next}, err
}

// ListRequestsByProfile lists the profile's requests, newest first.
func (s *Store) ListRequestsByProfile(ctx context.Context, profile string, p ports.Page) (ports.RequestPage, error) {
	items, next, err := requestKind.listBy(ctx, s, "profile", profile, p)
	return ports.RequestPage{Requests: items, Next: next}, err
}

// ListRequestsByStatus lists the requests whose effective status is status,
// newest first.
func (s *Store) ListRequestsByStatus(ctx context.Context, status ports.RequestStatus, p ports.Page) (ports.RequestPage, error) {
	items, next, err := requestKind.listByStatus(ctx, s, string(status), p)
	return ports.RequestPage{Requests: items, Next: next}, err
}

// ExpireLapsedRequests stores expired for every pending or approved request
// that has lapsed at now; see kind.expireLapsed.
func (s *Store) ExpireLapsedRequests(ctx context.Context, now time.Time) (int, error) {
	return requestKind.expireLapsed(ctx, s, now)
}
