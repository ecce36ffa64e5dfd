package memory

import (
	"context"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// CreateRequest stores r with Version 1.
func (m *Store) CreateRequest(ctx context.Context, r ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	return m.requests.create(ctx, r, nil)
}

// GetRequest returns the request as it reads now.
func (m *Store) GetRequest(ctx context.Context, id string) (ports.ApprovalRequest, error) {
	return m.requests.get(ctx, id)
}

// UpdateRequest replaces the record when the stored Version equals r.Version.
func (m *Store) UpdateRequest(ctx context.Context, r ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	return m.requests.update(ctx, r)
}

// ListRequestsByRequester lists the requester's requests, newest first.
func (m *Store) ListRequestsByRequester(ctx context.Context, requester string, p ports.Page) (ports.RequestPage, error) {
	return requestPage(m.requests.list(ctx, "by requester", p, func(r ports.ApprovalRequest) bool { return r.Requester == requester }))
}

// ListRequestsByProfile lists the profile's requests, newest first.
func (m *Store) ListRequestsByProfile(ctx context.Context, profile string, p ports.Page) (ports.RequestPage, error) {
	return requestPage(m.requests.list(ctx, "by profile", p, func(r ports.ApprovalRequest) bool { return r.Profile == profile }))
}

// ListRequestsByStatus lists requests whose effective status is status, newest first.
func (m *Store) ListRequestsByStatus(ctx context.Context, status ports.RequestStatus, p ports.Page) (ports.RequestPage, error) {
	return requestPage(m.requests.listByStatus(ctx, string(status), status.Valid(), p))
}

func requestPage(items []ports.ApprovalRequest, next string, err error) (ports.RequestPage, error) {
	return ports.RequestPage{Requests: items, Next: next}, err
}

// ExpireLapsedRequests stores expired for every pending or approved request
// that has run out at now.
func (m *Store) ExpireLapsedRequests(ctx context.Context, now time.Time) (int, error) {
	return m.requests.expireLapsed(ctx, now)
}

// effectiveRequest reports a lapsed pending or approved request as expired,
// Version unchanged.
func effectiveRequest(r ports.ApprovalRequest, now time.Time) ports.ApprovalRequest {
	if r.Lapsed(now) {
		r.Status = ports.RequestExpired
	}
	return r
}

func normalizeRequest(r ports.ApprovalRequest) ports.ApprovalRequest {
	r.CreatedAt = r.CreatedAt.UTC()
	r.UpdatedAt = r.UpdatedAt.UTC()
	r.ExpiresAt = r.ExpiresAt.UTC()
	r.ApprovedAt = r.ApprovedAt.UTC()
	return r
}
