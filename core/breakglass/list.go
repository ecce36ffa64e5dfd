package breakglass

import (
	"context"
	"fmt"
	"slices"

	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/ports"
)

// Statuses are every break-glass status, in the order listings merge them.
var Statuses = []ports.BreakGlassStatus{ports.BreakGlassActive, ports.BreakGlassClosed, ports.BreakGlassExpired}

// Filter selects events for List; empty fields match anything.
type Filter struct {
	// Status "" or "all" matches every status.
	Status, Invoker, Profile string
	// Keep, when set, must accept an event too (a broker keeps those the
	// caller may see).
	Keep func(ports.BreakGlassEvent) bool
}

// List returns up to limit events f selects, newest first: it reads the
// narrowest index (invoker, profile, status) and filters the rest.
// Errors: ErrInvalidArgument for an unknown status, and the store's.
func List(ctx context.Context, store ports.BreakGlassStore, f Filter, limit int) ([]ports.BreakGlassEvent, error) {
	statuses := Statuses
	if f.Status != "" && f.Status != "all" {
		if !slices.Contains(Statuses, ports.BreakGlassStatus(f.Status)) {
			return nil, fmt.Errorf("unknown break-glass status %q: use active, closed, expired or all: %w", f.Status, ports.ErrInvalidArgument)
		}
		statuses = []ports.BreakGlassStatus{ports.BreakGlassStatus(f.Status)}
	}
	page := func(list func(context.Context, ports.Page) (ports.BreakGlassPage, error)) record.Listing[ports.BreakGlassEvent] {
		return func(ctx context.Context, p ports.Page) ([]ports.BreakGlassEvent, string, error) {
			got, err := list(ctx, p)
			return got.Events, got.Next, err
		}
	}
	var lists []record.Listing[ports.BreakGlassEvent]
	switch {
	case f.Invoker != "":
		lists = append(lists, page(func(ctx context.Context, p ports.Page) (ports.BreakGlassPage, error) {
			return store.ListBreakGlassByInvoker(ctx, f.Invoker, p)
		}))
	case f.Profile != "":
		lists = append(lists, page(func(ctx context.Context, p ports.Page) (ports.BreakGlassPage, error) {
			return store.ListBreakGlassByProfile(ctx, f.Profile, p)
		}))
	default:
		for _, st := range statuses {
			lists = append(lists, ByStatus(store, st))
		}
	}
	keep := func(e ports.BreakGlassEvent) bool {
		return (f.Invoker == "" || e.Invoker == f.Invoker) && (f.Profile == "" || e.Profile == f.Profile) &&
			slices.Contains(statuses, e.Status) && (f.Keep == nil || f.Keep(e))
	}
	return record.CollectNewest(ctx, lists, keep, ports.BreakGlassPosition, limit)
}

// ByStatus is the listing of the events in one status, newest first.
func ByStatus(store ports.BreakGlassStore, st ports.BreakGlassStatus) record.Listing[ports.BreakGlassEvent] {
	return func(ctx context.Context, p ports.Page) ([]ports.BreakGlassEvent, string, error) {
		got, err := store.ListBreakGlassByStatus(ctx, st, p)
		return got.Events, got.Next, err
	}
}
