package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// CreateRequest stores r with Version 1.
func (m *Store) CreateRequest(ctx context.Context, r ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	if err := checkRecord(ctx, "create request", r.ID, r.Status.Valid(), r.Status); err != nil {
		return ports.ApprovalRequest{}, err
	}
	r = normalizeRequest(r)
	r.Version = 1

	m.mu.Lock()
	defer m.mu.Unlock()
	if _, taken := m.requests[r.ID]; taken {
		return ports.ApprovalRequest{}, fmt.Errorf("memory: create request %q: %w", r.ID, ports.ErrAlreadyExists)
	}
	m.requests[r.ID] = r
	return effectiveRequest(r, m.clock.Now()), nil
}

// GetRequest returns the request as it reads now.
func (m *Store) GetRequest(ctx context.Context, id string) (ports.ApprovalRequest, error) {
	if err := checkRef(ctx, "get request", id); err != nil {
		return ports.ApprovalRequest{}, err
	}
	m.mu.RLock()
	r, ok := m.requests[id]
	m.mu.RUnlock()
	if !ok {
		return ports.ApprovalRequest{}, fmt.Errorf("memory: get request %q: %w", id, ports.ErrNotFound)
	}
	return effectiveRequest(r, m.clock.Now()), nil
}

// UpdateRequest replaces the record when the stored Version equals r.Version.
func (m *Store) UpdateRequest(ctx context.Context, r ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	if err := checkRecord(ctx, "update request", r.ID, r.Status.Valid(), r.Status); err != nil {
		return ports.ApprovalRequest{}, err
	}
	r = normalizeRequest(r)

	m.mu.Lock()
	defer m.mu.Unlock()
	stored, ok := m.requests[r.ID]
	if !ok {
		return ports.ApprovalRequest{}, fmt.Errorf("memory: update request %q: %w", r.ID, ports.ErrNotFound)
	}
	if stored.Version != r.Version {
		return ports.ApprovalRequest{}, fmt.Errorf("memory: update request %q: stored version %d, caller's %d: %w",
			r.ID, stored.Version, r.Version, ports.ErrConflict)
	}
	r.Version = stored.Version + 1
	m.requests[r.ID] = r
	return effectiveRequest(r, m.clock.Now()), nil
}

// ListRequestsByRequester lists the requester's requests, newest first.
func (m *Store) ListRequestsByRequester(ctx context.Context, requester string, p ports.Page) (ports.RequestPage, error) {
	return m.listRequests(ctx, "by requester", p, func(r ports.ApprovalRequest) bool { return r.Requester == requester })
}

// ListRequestsByProfile lists the profile's requests, newest first.
func (m *Store) ListRequestsByProfile(ctx context.Context, profile string, p ports.Page) (ports.RequestPage, error) {
	return m.listRequests(ctx, "by profile", p, func(r ports.ApprovalRequest) bool { return r.Profile == profile })
}

// ListRequestsByStatus lists requests whose effective status is status, newest first.
func (m *Store) ListRequestsByStatus(ctx context.Context, status ports.RequestStatus, p ports.Page) (ports.RequestPage, error) {
	if !status.Valid() {
		return ports.RequestPage{}, fmt.Errorf("memory: list requests by status: unknown status %q: %w", status, ports.ErrInvalidArgument)
	}
	return m.listRequests(ctx, "by status", p, func(r ports.ApprovalRequest) bool { return r.Status == status })
}

// ExpireLapsedRequests stores expired for every pending or approved request
// that has run out at now. Under the one lock each change is trivially
// conditional: nothing can cancel in between.
func (m *Store) ExpireLapsedRequests(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memory: expire lapsed requests: %w", err)
	}
	now = now.UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := 0
	for id, r := range m.requests {
		if !r.Lapsed(now) {
			continue
		}
		r.Status = ports.RequestExpired
		r.UpdatedAt = now
		r.Version++
		m.requests[id] = r
		changed++
	}
	return changed, nil
}

// listRequests filters on the effective status and pages newest first.
func (m *Store) listRequests(ctx context.Context, what string, p ports.Page, match func(ports.ApprovalRequest) bool) (ports.RequestPage, error) {
	if err := ctx.Err(); err != nil {
		return ports.RequestPage{}, fmt.Errorf("memory: list requests %s: %w", what, err)
	}
	now := m.clock.Now()
	var matched []ports.ApprovalRequest
	m.mu.RLock()
	for _, r := range m.requests {
		if r = effectiveRequest(r, now); match(r) {
			matched = append(matched, r)
		}
	}
	m.mu.RUnlock()
	items, next, err := pageOf(matched, p, ports.RequestPosition)
	if err != nil {
		return ports.RequestPage{}, fmt.Errorf("memory: list requests %s: %w", what, err)
	}
	return ports.RequestPage{Requests: items, Next: next}, nil
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

// pageOf keeps the records past p's cursor and cuts one page, newest first.
func pageOf[T any](records []T, p ports.Page, pos func(T) ports.Position) ([]T, string, error) {
	after, resume, err := ports.CheckPage(p)
	if err != nil {
		return nil, "", err
	}
	kept := records[:0]
	for _, r := range records {
		if !resume || pos(r).Compare(after) > 0 {
			kept = append(kept, r)
		}
	}
	ports.SortByPosition(kept, pos)
	items, next := ports.CutPage(kept, p.Limit, pos)
	return items, next, nil
}

// checkRecord validates the id and status of a record to store.
func checkRecord(ctx context.Context, op, id string, statusValid bool, status any) error {
	if err := checkRef(ctx, op, id); err != nil {
		return err
	}
	if !statusValid {
		return fmt.Errorf("memory: %s %q: unknown status %q: %w", op, id, status, ports.ErrInvalidArgument)
	}
	return nil
}

// checkRef fails on a done context or an empty id.
func checkRef(ctx context.Context, op, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s %q: %w", op, id, err)
	}
	if id == "" {
		return fmt.Errorf("memory: %s: empty id: %w", op, ports.ErrInvalidArgument)
	}
	return nil
}
