package bolt

import (
	"context"
	"fmt"

	"github.com/sentinel-gw/sentinel/ports"
)

var _ ports.ActiveSessionLister = (*Store)(nil)

// ListActiveSessionsByUser lists the user's active sessions, newest first.
// It walks the active keys of the status index, not the user's history, so
// ended sessions cost nothing.
func (s *Store) ListActiveSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	return s.listActive(ctx, "by user", user, p, func(r ports.Session) bool { return r.User == user })
}

// ListActiveSessionsByProfile lists the profile's active sessions, newest
// first, from the status index as ListActiveSessionsByUser.
func (s *Store) ListActiveSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	return s.listActive(ctx, "by profile", profile, p, func(r ports.Session) bool { return r.Profile == profile })
}

func (s *Store) listActive(ctx context.Context, by, value string, p ports.Page, match func(ports.Session) bool) (ports.SessionPage, error) {
	if value == "" {
		return ports.SessionPage{}, fmt.Errorf("bolt: list active sessions %s: empty value: %w", by, ports.ErrInvalidArgument)
	}
	scans := []scan{{bucketStatus, indexPrefix(string(ports.SessionActive))}}
	return s.list(ctx, "active "+by, p, scans, func(r ports.Session) bool { return r.Status == ports.SessionActive && match(r) })
}
