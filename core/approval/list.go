package approval

import (
	"context"
	"fmt"
	"slices"

	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/ports"
)

// Statuses are every request status, in the order listings merge them.
var Statuses = []ports.RequestStatus{ports.RequestPending, ports.RequestApproved, ports.RequestDenied, ports.RequestExpired, ports.RequestCancelled}

// Filter selects requests for List; empty fields match anything.
type Filter struct {
	// Status "" or "all" matches every status.
	Status, Requester, Profile string
	// Keep, when set, must accept a request too (a broker keeps those the
	// caller may see).
	Keep func(ports.ApprovalRequest) bool
}

// List returns up to limit requests f selects, newest first: it reads the
// narrowest index (requester, profile, status) and filters the rest.
// Errors: ErrInvalidArgument for an unknown status, and the store's.
func List(ctx context.Context, store ports.ApprovalStore, f Filter, limit int) ([]ports.ApprovalRequest, error) {
	statuses := Statuses
	if f.Status != "" && f.Status != "all" {
		if !slices.Contains(Statuses, ports.RequestStatus(f.Status)) {
			return nil, fmt.Errorf("unknown request status %q: use pending, approved, denied, expired, cancelled or all: %w", f.Status, ports.ErrInvalidArgument)
		}
		statuses = []ports.RequestStatus{ports.RequestStatus(f.Status)}
	}
	page := func(list func(context.Context, ports.Page) (ports.RequestPage, error)) record.Listing[ports.ApprovalRequest] {
		return func(ctx context.Context, p ports.Page) ([]ports.ApprovalRequest, string, error) {
			got, err := list(ctx, p)
			return got.Requests, got.Next, err
		}
	}
	var lists []record.Listing[ports.ApprovalRequest]
	switch {
	case f.Requester != "":
		lists = append(lists, page(func(ctx context.Context, p ports.Page) (ports.RequestPage, error) {
			return store.ListRequestsByRequester(ctx, f.Requester, p)
		}))
	case f.Profile != "":
		lists = append(lists, page(func(ctx context.Context, p ports.Page) (ports.RequestPage, error) {
			return store.ListRequestsByProfile(ctx, f.Profile, p)
		}))
	default:
		for _, st := range statuses {
			lists = append(lists, ByStatus(store, st))
		}
	}
	keep := func(r ports.ApprovalRequest) bool {
		return (f.Requester == "" || r.Requester == f.Requester) && (f.Profile == "" || r.Profile == f.Profile) &&
			slices.Contains(statuses, r.Status) && (f.Keep == nil || f.Keep(r))
	}
	return record.CollectNewest(ctx, lists, keep, ports.RequestPosition, limit)
}

// ByStatus is the listing of the requests in one status, newest first.
func ByStatus(store ports.ApprovalStore, st ports.RequestStatus) record.Listing[ports.ApprovalRequest] {
	return func(ctx context.Context, p ports.Page) ([]ports.ApprovalRequest, string, error) {
		got, err := store.ListRequestsByStatus(ctx, st, p)
		return got.Requests, got.Next, err
	}
}
