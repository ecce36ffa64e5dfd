package bolt

import (
	"context"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/ports"
)

// CreateBreakGlass stores in as given with Version 1. In the same write
// transaction it refuses an effectively active event while the invoker
// already has one for the profile, so two processes racing to create one
// cannot both succeed.
func (s *Store) CreateBreakGlass(ctx context.Context, in ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
	if err := checkNew("create break-glass event", in.ID, in.Status.Valid(), string(in.Status)); err != nil {
		return ports.BreakGlassEvent{}, err
	}
	rec := eventInUTC(in)
	rec.Version = 1
	var now time.Time
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if eventRecords.exists(tx, rec.ID) {
			return fmt.Errorf("bolt: create break-glass event %q: %w", rec.ID, ports.ErrAlreadyExists)
		}
		// The clock is read under the lock, so no later writer judged
		// "active" by an earlier now.
		now = s.clock.Now()
		if effectiveEvent(rec, now).Status == ports.BreakGlassActive {
			if err := refuseSecondActive(tx, rec, now); err != nil {
				return err
			}
		}
		return eventRecords.write(tx, nil, rec)
	})
	if err != nil {
		return ports.BreakGlassEvent{}, err
	}
	return effectiveEvent(rec, now), nil
}

// refuseSecondActive fails with ErrAlreadyExists, naming the event in the
// way, when rec's invoker has an effectively active event for rec's profile.
func refuseSecondActive(tx *bbolt.Tx, rec ports.BreakGlassEvent, now time.Time) error {
	ids, err := idsUnder(tx, bucketBGActive, pairPrefix(rec.Invoker, rec.Profile))
	if err != nil {
		return err
	}
	for _, id := range ids {
		other, err := eventRecords.read(tx, id)
		if errors.Is(err, ports.ErrNotFound) {
			continue // cannot happen: records and indexes change in one transaction
		}
		if err != nil {
			return fmt.Errorf("bolt: create break-glass event %q: checking the invoker's active events: %w", rec.ID, err)
		}
		if effectiveEvent(other, now).Status == ports.BreakGlassActive {
			return fmt.Errorf("bolt: create break-glass event %q: an active break-glass exists for invoker %q and profile %q: %s: %w",
				rec.ID, rec.Invoker, rec.Profile, other.ID, ports.ErrAlreadyExists)
		}
	}
	return nil
}

// GetBreakGlass returns the event as it reads now.
func (s *Store) GetBreakGlass(ctx context.Context, id string) (ports.BreakGlassEvent, error) {
	if id == "" {
		return ports.BreakGlassEvent{}, fmt.Errorf("bolt: get break-glass event: empty id: %w", ports.ErrInvalidArgument)
	}
	var got ports.BreakGlassEvent
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		if got, err = eventRecords.read(tx, id); err != nil {
			return fmt.Errorf("bolt: get break-glass event %q: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return ports.BreakGlassEvent{}, err
	}
	return effectiveEvent(got, s.clock.Now()), nil
}

// UpdateBreakGlass replaces the record when the stored Version equals in.Version.
func (s *Store) UpdateBreakGlass(ctx context.Context, in ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
	if err := checkNew("update break-glass event", in.ID, in.Status.Valid(), string(in.Status)); err != nil {
		return ports.BreakGlassEvent{}, err
	}
	rec := eventInUTC(in)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		stored, err := eventRecords.read(tx, rec.ID)
		if err != nil {
			return fmt.Errorf("bolt: update break-glass event %q: %w", rec.ID, err)
		}
		if stored.Version != rec.Version {
			return fmt.Errorf("bolt: update break-glass event %q: stored version %d, caller's %d: %w",
				rec.ID, stored.Version, rec.Version, ports.ErrConflict)
		}
		rec.Version = stored.Version + 1
		return eventRecords.write(tx, &stored, rec)
	})
	if err != nil {
		return ports.BreakGlassEvent{}, err
	}
	return effectiveEvent(rec, s.clock.Now()), nil
}

// ListBreakGlassByInvoker lists the invoker's events, newest first.
func (s *Store) ListBreakGlassByInvoker(ctx context.Context, invoker string, p ports.Page) (ports.BreakGlassPage, error) {
	return s.listEvents(ctx, "by invoker", p, []scan{{bucketBGInvoker, indexPrefix(invoker)}}, nil)
}

// ListBreakGlassByProfile lists the profile's events, newest first.
func (s *Store) ListBreakGlassByProfile(ctx context.Context, profile string, p ports.Page) (ports.BreakGlassPage, error) {
	return s.listEvents(ctx, "by profile", p, []scan{{bucketBGProfile, indexPrefix(profile)}}, nil)
}

// ListBreakGlassByStatus lists the events whose effective status is status,
// newest first; expired merges stored expired keys with lapsed active ones.
func (s *Store) ListBreakGlassByStatus(ctx context.Context, status ports.BreakGlassStatus, p ports.Page) (ports.BreakGlassPage, error) {
	if !status.Valid() {
		return ports.BreakGlassPage{}, fmt.Errorf("bolt: list break-glass events by status: unknown status %q: %w", status, ports.ErrInvalidArgument)
	}
	scans := []scan{{bucketBGStatus, indexPrefix(string(status))}}
	if status == ports.BreakGlassExpired {
		scans = append(scans, scan{bucketBGStatus, indexPrefix(string(ports.BreakGlassActive))})
	}
	keep := func(view ports.BreakGlassEvent) bool { return view.Status == status }
	return s.listEvents(ctx, "by status", p, scans, keep)
}

// ExpireLapsedBreakGlass stores expired for every active event that has run
// out at now, in one transaction.
func (s *Store) ExpireLapsedBreakGlass(ctx context.Context, now time.Time) (int, error) {
	now = now.UTC()
	changed := 0
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		changed, err = eventRecords.expireLapsed(tx, []string{string(ports.BreakGlassActive)},
			func(e ports.BreakGlassEvent) bool { return e.Lapsed(now) },
			func(e *ports.BreakGlassEvent) {
				e.Status = ports.BreakGlassExpired
				e.UpdatedAt = now
				e.Version++
			})
		return err
	})
	if err != nil {
		return 0, err
	}
	return changed, nil
}

func (s *Store) listEvents(ctx context.Context, what string, p ports.Page, scans []scan, keep func(ports.BreakGlassEvent) bool) (ports.BreakGlassPage, error) {
	items, next, err := listRecords(ctx, s, eventRecords, what, p, scans, keep)
	if err != nil {
		return ports.BreakGlassPage{}, err
	}
	return ports.BreakGlassPage{Events: items, Next: next}, nil
}
