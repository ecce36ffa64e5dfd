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
	return eventRecords.create(ctx, s, in, func(tx *bbolt.Tx, rec ports.BreakGlassEvent, now time.Time) error {
		if effectiveEvent(rec, now).Status != ports.BreakGlassActive {
			return nil
		}
		return refuseSecondActive(tx, rec, now)
	})
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
	return eventRecords.get(ctx, s, id)
}

// UpdateBreakGlass replaces the record when the stored Version equals in.Version.
func (s *Store) UpdateBreakGlass(ctx context.Context, in ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
	return eventRecords.update(ctx, s, in)
}

// ListBreakGlassByInvoker lists the invoker's events, newest first.
func (s *Store) ListBreakGlassByInvoker(ctx context.Context, invoker string, p ports.Page) (ports.BreakGlassPage, error) {
	return eventPage(listRecords(ctx, s, eventRecords, "by invoker", p, []scan{{bucketBGInvoker, indexPrefix(invoker)}}, nil))
}

// ListBreakGlassByProfile lists the profile's events, newest first.
func (s *Store) ListBreakGlassByProfile(ctx context.Context, profile string, p ports.Page) (ports.BreakGlassPage, error) {
	return eventPage(listRecords(ctx, s, eventRecords, "by profile", p, []scan{{bucketBGProfile, indexPrefix(profile)}}, nil))
}

// ListBreakGlassByStatus lists the events whose effective status is status,
// newest first; expired merges stored expired keys with lapsed active ones.
func (s *Store) ListBreakGlassByStatus(ctx context.Context, status ports.BreakGlassStatus, p ports.Page) (ports.BreakGlassPage, error) {
	return eventPage(eventRecords.listByStatus(ctx, s, string(status), status.Valid(), p))
}

// ExpireLapsedBreakGlass stores expired for every active event that has run
// out at now, in one transaction.
func (s *Store) ExpireLapsedBreakGlass(ctx context.Context, now time.Time) (int, error) {
	return eventRecords.expire(ctx, s, now)
}

func eventPage(items []ports.BreakGlassEvent, next string, err error) (ports.BreakGlassPage, error) {
	if err != nil {
		return ports.BreakGlassPage{}, err
	}
	return ports.BreakGlassPage{Events: items, Next: next}, nil
}
