package bolt

import (
	"context"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// CreateRequest stores in as given with Version 1.
func (s *Store) CreateRequest(ctx context.Context, in ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	return requestRecords.create(ctx, s, in, nil)
}

// GetRequest returns the request as it reads now.
func (s *Store) GetRequest(ctx context.Context, id string) (ports.ApprovalRequest, error) {
	return requestRecords.get(ctx, s, id)
}

// UpdateRequest replaces the record when the stored Version equals in.Version.
func (s *Store) UpdateRequest(ctx context.Context, in ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	return requestRecords.update(ctx, s, in)
}

// ListRequestsByRequester lists the requester's requests, newest first.
func (s *Store) ListRequestsByRequester(ctx context.Context, requester string, p ports.Page) (ports.RequestPage, error) {
	return requestPage(listRecords(ctx, s, requestRecords, "by requester", p, []scan{{bucketReqRequester, indexPrefix(requester)}}, nil))
}

// ListRequestsByProfile lists the profile's requests, newest first.
func (s *Store) ListRequestsByProfile(ctx context.Context, profile string, p ports.Page) (ports.RequestPage, error) {
	return requestPage(listRecords(ctx, s, requestRecords, "by profile", p, []scan{{bucketReqProfile, indexPrefix(profile)}}, nil))
}

// ListRequestsByStatus lists the requests whose effective status is status,
// newest first. The index holds stored statuses: expired merges the stored
// expired keys with the pending and approved ones that have lapsed.
func (s *Store) ListRequestsByStatus(ctx context.Context, status ports.RequestStatus, p ports.Page) (ports.RequestPage, error) {
	return requestPage(requestRecords.listByStatus(ctx, s, string(status), status.Valid(), p))
}

// ExpireLapsedRequests stores expired for every pending or approved request
// that has run out at now, in one transaction.
func (s *Store) ExpireLapsedRequests(ctx context.Context, now time.Time) (int, error) {
	return requestRecords.expire(ctx, s, now)
}

func requestPage(items []ports.ApprovalRequest, next string, err error) (ports.RequestPage, error) {
	if err != nil {
		return ports.RequestPage{}, err
	}
	return ports.RequestPage{Requests: items, Next: next}, nil
}
