package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/ports"
)

// Attribute names of a request item, beyond those every item shares (id,
// schema, profile, status, the times, version, created_sort). Durations are
// numbers of nanoseconds, exact.
const (
	attrRequester       = "requester"
	attrRequesterARN    = "requester_arn"
	attrJustification   = "justification"
	attrDuration        = "duration"
	attrApprover        = "approver"
	attrApproverARN     = "approver_arn"
	attrApproverComment = "approver_comment"
	attrApprovedAt      = "approved_at"
	attrCancelledBy     = "cancelled_by"
)

// requestSchema marks an item as an approval request in this layout.
const requestSchema = "sentinel-request/1"

var requestRecords = recordKind[ports.ApprovalRequest]{
	noun: "request", plural: "requests", table: func(s *Store) string { return s.requestsTable },
	schema: requestSchema, encode: encodeRequest, decode: decodeRequest, stored: storedRequest,
	lapsed: ports.ApprovalRequest.Lapsed, markExpired: func(r *ports.ApprovalRequest) { r.Status = ports.RequestExpired },
	position:    ports.RequestPosition,
	status:      func(r ports.ApprovalRequest) string { return string(r.Status) },
	validStatus: func(st string) bool { return ports.RequestStatus(st).Valid() },
	version:     func(r *ports.ApprovalRequest) *int64 { return &r.Version },
	lapsable:    []string{string(ports.RequestPending), string(ports.RequestApproved)},
	expired:     string(ports.RequestExpired),
}

// CreateRequest stores r with Version 1, only if no item has its id.
func (s *Store) CreateRequest(ctx context.Context, r ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	return createRecord(ctx, s, requestRecords, r)
}

// GetRequest reads the request with a strongly consistent read.
func (s *Store) GetRequest(ctx context.Context, id string) (ports.ApprovalRequest, error) {
	return getRecord(ctx, s, requestRecords, id)
}

// UpdateRequest replaces the item when its version equals r.Version.
func (s *Store) UpdateRequest(ctx context.Context, r ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	return updateRecord(ctx, s, requestRecords, r)
}

// ListRequestsByRequester lists the requester's requests, newest first.
func (s *Store) ListRequestsByRequester(ctx context.Context, requester string, p ports.Page) (ports.RequestPage, error) {
	items, next, err := listSorted(ctx, s, requestRecords, "by requester", indexRequester, attrRequester, []string{requester}, p, nil)
	return ports.RequestPage{Requests: items, Next: next}, err
}

// ListRequestsByProfile lists the profile's requests, newest first.
func (s *Store) ListRequestsByProfile(ctx context.Context, profile string, p ports.Page) (ports.RequestPage, error) {
	items, next, err := listSorted(ctx, s, requestRecords, "by profile", indexProfile, attrProfile, []string{profile}, p, nil)
	return ports.RequestPage{Requests: items, Next: next}, err
}

// ListRequestsByStatus lists the requests whose effective status is status,
// newest first: a pending or approved request past its ExpiresAt is listed
// as expired.
func (s *Store) ListRequestsByStatus(ctx context.Context, status ports.RequestStatus, p ports.Page) (ports.RequestPage, error) {
	items, next, err := listByStatus(ctx, s, requestRecords, string(status), p)
	return ports.RequestPage{Requests: items, Next: next}, err
}

// ExpireLapsedRequests stores expired for every pending or approved request
// whose ExpiresAt is at or before now, each with a conditional update, so a
// concurrent decision or cancel wins and is not counted.
func (s *Store) ExpireLapsedRequests(ctx context.Context, now time.Time) (int, error) {
	return expireLapsed(ctx, s, requestRecords, now)
}

// storedRequest returns r as the table keeps it: times truncated, in UTC.
func storedRequest(r ports.ApprovalRequest) ports.ApprovalRequest {
	r.CreatedAt = truncate(r.CreatedAt)
	r.UpdatedAt = truncate(r.UpdatedAt)
	r.ExpiresAt = truncate(r.ExpiresAt)
	r.ApprovedAt = truncate(r.ApprovedAt)
	return r
}

// encodeRequest returns the item for r, which must already be storedRequest(r).
func encodeRequest(r ports.ApprovalRequest) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrID:          str(r.ID),
		attrSchema:      str(requestSchema),
		attrStatus:      str(string(r.Status)),
		attrDuration:    num(int64(r.Duration)),
		attrVersion:     num(r.Version),
		attrCreatedSort: str(createdSort(r.CreatedAt, r.ID)),
	}
	setStrings(item, map[string]string{
		attrRequester: r.Requester, attrRequesterARN: r.RequesterARN, attrProfile: r.Profile,
		attrJustification: r.Justification, attrApprover: r.Approver, attrApproverARN: r.ApproverARN,
		attrApproverComment: r.ApproverComment, attrCancelledBy: r.CancelledBy,
	})
	setTimes(item, map[string]time.Time{
		attrCreatedAt: r.CreatedAt, attrUpdatedAt: r.UpdatedAt, attrExpiresAt: r.ExpiresAt, attrApprovedAt: r.ApprovedAt,
	})
	return item
}

// decodeRequest reads the request item stored under id; anything it cannot
// trust is an error wrapping ports.ErrCorrupt that names id.
func decodeRequest(id string, item map[string]types.AttributeValue) (ports.ApprovalRequest, error) {
	d := newDecoder(item, requestSchema)
	r := ports.ApprovalRequest{
		ID:              d.str(attrID, true),
		Requester:       d.str(attrRequester, false),
		RequesterARN:    d.str(attrRequesterARN, false),
		Profile:         d.str(attrProfile, false),
		Justification:   d.str(attrJustification, false),
		Duration:        time.Duration(d.int(attrDuration, true)),
		Status:          ports.RequestStatus(d.str(attrStatus, true)),
		CreatedAt:       d.time(attrCreatedAt),
		UpdatedAt:       d.time(attrUpdatedAt),
		ExpiresAt:       d.time(attrExpiresAt),
		Approver:        d.str(attrApprover, false),
		ApproverARN:     d.str(attrApproverARN, false),
		ApproverComment: d.str(attrApproverComment, false),
		ApprovedAt:      d.time(attrApprovedAt),
		CancelledBy:     d.str(attrCancelledBy, false),
		Version:         d.int(attrVersion, true),
	}
	if err := d.done("request", id, ports.RequestPosition(r), r.Status.Valid(), string(r.Status), r.Version); err != nil {
		return ports.ApprovalRequest{}, err
	}
	return r, nil
}
