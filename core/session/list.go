package session

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Filter selects sessions for List; empty fields match anything.
type Filter struct {
	// Status "" or "all" matches every status.
	Status, User, Profile string
	// Since, when set, drops sessions created before it.
	Since time.Time
	// Keep, when set, must accept a session too (a broker keeps a
	// non-admin's own sessions: those with the caller's ARN).
	Keep func(ports.Session) bool
}

func (f Filter) keeps(s ports.Session) bool {
	return (f.User == "" || s.User == f.User) &&
		(f.Profile == "" || s.Profile == f.Profile) &&
		(f.Status == "" || f.Status == "all" || string(s.Status) == f.Status) &&
		(f.Keep == nil || f.Keep(s))
}

// List returns one page of the sessions f selects, newest first, after
// p.Cursor: it reads the narrowest index (user, profile, status) and
// filters the rest; with no index to narrow by it merges the three status
// listings. Next is set when more may follow. Errors: ErrInvalidArgument for
// a bad page or an unknown status, and the store's.
func List(ctx context.Context, store ports.SessionStore, f Filter, p ports.Page) (ports.SessionPage, error) {
	if _, _, err := ports.CheckPage(p); err != nil {
		return ports.SessionPage{}, err
	}
	if f.Status != "" && f.Status != "all" && !ports.SessionStatus(f.Status).Valid() {
		return ports.SessionPage{}, fmt.Errorf("unknown session status %q: use active, revoked, expired or all: %w", f.Status, ports.ErrInvalidArgument)
	}
	var fetches []func(ports.Page) (ports.SessionPage, error)
	switch {
	case f.User != "":
		fetches = append(fetches, func(p ports.Page) (ports.SessionPage, error) { return store.ListSessionsByUser(ctx, f.User, p) })
	case f.Profile != "":
		fetches = append(fetches, func(p ports.Page) (ports.SessionPage, error) { return store.ListSessionsByProfile(ctx, f.Profile, p) })
	case f.Status != "" && f.Status != "all":
		fetches = append(fetches, func(p ports.Page) (ports.SessionPage, error) {
			return store.ListSessionsByStatus(ctx, ports.SessionStatus(f.Status), p)
		})
	default:
		// No single index holds every session: merge the three status listings.
		for _, st := range []ports.SessionStatus{ports.SessionActive, ports.SessionRevoked, ports.SessionExpired} {
			fetches = append(fetches, func(p ports.Page) (ports.SessionPage, error) { return store.ListSessionsByStatus(ctx, st, p) })
		}
	}
	var all []ports.Session
	for _, fetch := range fetches {
		// One more than the page, so CutPage knows whether more follow.
		got, err := collect(fetch, f, p.Cursor, p.Limit+1)
		if err != nil {
			return ports.SessionPage{}, err
		}
		all = append(all, got...)
	}
	ports.SortByPosition(all, ports.SessionPosition)
	sessions, next := ports.CutPage(all, p.Limit, ports.SessionPosition)
	return ports.SessionPage{Sessions: sessions, Next: next}, nil
}

// collect pages through fetch from cursor until limit sessions pass the
// filter, or the listing (newest first) goes past f.Since.
func collect(fetch func(ports.Page) (ports.SessionPage, error), f Filter, cursor string, limit int) ([]ports.Session, error) {
	var out []ports.Session
	page := ports.Page{Limit: min(limit, ports.MaxPageLimit), Cursor: cursor}
	for {
		p, err := fetch(page)
		if err != nil {
			return nil, err
		}
		for _, s := range p.Sessions {
			if !f.Since.IsZero() && s.CreatedAt.Before(f.Since) {
				return out, nil
			}
			if f.keeps(s) {
				out = append(out, s)
				if len(out) == limit {
					return out, nil
				}
			}
		}
		if p.Next == "" {
			return out, nil
		}
		page.Cursor = p.Next
	}
}
