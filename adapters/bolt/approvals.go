package bolt

import (
	"context"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/ports"
)

// CreateRequest stores in as given with Version 1.
func (s *Store) CreateRequest(ctx context.Context, in ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	if err := checkNew("create request", in.ID, in.Status.Valid(), string(in.Status)); err != nil {
		return ports.ApprovalRequest{}, err
	}
	rec := requestInUTC(in)
	rec.Version = 1
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if requestRecords.exists(tx, rec.ID) {
			return fmt.Errorf("bolt: create request %q: %w", rec.ID, ports.ErrAlreadyExists)
		}
		return requestRecords.write(tx, nil, rec)
	})
	if err != nil {
		return ports.ApprovalRequest{}, err
	}
	return effectiveRequest(rec, s.clock.Now()), nil
}

// GetRequest returns the request as it reads now.
func (s *Store) GetRequest(ctx context.Context, id string) (ports.ApprovalRequest, error) {
	if id == "" {
		return ports.ApprovalRequest{}, fmt.Errorf("bolt: get request: empty id: %w", ports.ErrInvalidArgument)
	}
	var got ports.ApprovalRequest
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		if got, err = requestRecords.read(tx, id); err != nil {
			return fmt.Errorf("bolt: get request %q: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return ports.ApprovalRequest{}, err
	}
	return effectiveRequest(got, s.clock.Now()), nil
}

// UpdateRequest replaces the record when the stored Version equals in.Version.
func (s *Store) UpdateRequest(ctx context.Context, in ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	if err := checkNew("update request", in.ID, in.Status.Valid(), string(in.Status)); err != nil {
		return ports.ApprovalRequest{}, err
	}
	rec := requestInUTC(in)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		stored, err := requestRecords.read(tx, rec.ID)
		if err != nil {
			return fmt.Errorf("bolt: update request %q: %w", rec.ID, err)
		}
		if stored.Version != rec.Version {
			return fmt.Errorf("bolt: update request %q: stored version %d, caller's %d: %w",
				rec.ID, stored.Version, rec.Version, ports.ErrConflict)
		}
		rec.Version = stored.Version + 1
		return requestRecords.write(tx, &stored, rec)
	})
	if err != nil {
		return ports.ApprovalRequest{}, err
	}
	return effectiveRequest(rec, s.clock.Now()), nil
}

// ListRequestsByRequester lists the requester's requests, newest first.
func (s *Store) ListRequestsByRequester(ctx context.Context, requester string, p ports.Page) (ports.RequestPage, error) {
	return s.listRequests(ctx, "by requester", p, []scan{{bucketReqRequester, indexPrefix(requester)}}, nil)
}

// ListRequestsByProfile lists the profile's requests, newest first.
func (s *Store) ListRequestsByProfile(ctx context.Context, profile string, p ports.Page) (ports.RequestPage, error) {
	return s.listRequests(ctx, "by profile", p, []scan{{bucketReqProfile, indexPrefix(profile)}}, nil)
}

// lapsableRequestStatuses are the stored states a request leaves by
// running out: they read as expired once ExpiresAt passes.
var lapsableRequestStatuses = []string{string(ports.RequestPending), string(ports.RequestApproved)}

// ListRequestsByStatus lists the requests whose effective status is status,
// newest first. The index holds stored statuses: expired merges the stored
// expired keys with the pending and approved ones that have lapsed.
func (s *Store) ListRequestsByStatus(ctx context.Context, status ports.RequestStatus, p ports.Page) (ports.RequestPage, error) {
	if !status.Valid() {
		return ports.RequestPage{}, fmt.Errorf("bolt: list requests by status: unknown status %q: %w", status, ports.ErrInvalidArgument)
	}
	scans := []scan{{bucketReqStatus, indexPrefix(string(status))}}
	if status == ports.RequestExpired {
		for _, st := range lapsableRequestStatuses {
			scans = append(scans, scan{bucketReqStatus, indexPrefix(st)})
		}
	}
	keep := func(view ports.ApprovalRequest) bool { return view.Status == status }
	return s.listRequests(ctx, "by status", p, scans, keep)
}

// ExpireLapsedRequests stores expired for every pending or approved request
// that has run out at now, in one transaction.
func (s *Store) ExpireLapsedRequests(ctx context.Context, now time.Time) (int, error) {
	now = now.UTC()
	changed := 0
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		changed, err = requestRecords.expireLapsed(tx, lapsableRequestStatuses,
			func(r ports.ApprovalRequest) bool { return r.Lapsed(now) },
			func(r *ports.ApprovalRequest) {
				r.Status = ports.RequestExpired
				r.UpdatedAt = now
				r.Version++
			})
		return err
	})
	if err != nil {
		return 0, err
	}
	return changed, nil
}

func (s *Store) listRequests(ctx context.Context, what string, p ports.Page, scans []scan, keep func(ports.ApprovalRequest) bool) (ports.RequestPage, error) {
	items, next, err := listRecords(ctx, s, requestRecords, what, p, scans, keep)
	if err != nil {
		return ports.RequestPage{}, err
	}
	return ports.RequestPage{Requests: items, Next: next}, nil
}

// checkNew refuses a record to write with an empty id or an unknown status.
func checkNew(op, id string, statusValid bool, status string) error {
	if id == "" {
		return fmt.Errorf("bolt: %s: empty id: %w", op, ports.ErrInvalidArgument)
	}
	if !statusValid {
		return fmt.Errorf("bolt: %s %q: unknown status %q: %w", op, id, status, ports.ErrInvalidArgument)
	}
	return nil
}
