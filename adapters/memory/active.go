package memory

import (
	"context"
	"fmt"

	"github.com/sentinel-gw/sentinel/ports"
)

var _ ports.ActiveSessionLister = (*Store)(nil)

// ListActiveSessionsByUser lists the user's active sessions, newest first.
func (m *Store) ListActiveSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	if user == "" {
		return ports.SessionPage{}, fmt.Errorf("memory: list active sessions by user: empty user: %w", ports.ErrInvalidArgument)
	}
	return sessionPage(m.sessions.list(ctx, "active by user", p, func(s ports.Session) bool {
		return s.Status == ports.SessionActive && s.User == user
	}))
}

// ListActiveSessionsByProfile lists the profile's active sessions, newest first.
func (m *Store) ListActiveSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	if profile == "" {
		return ports.SessionPage{}, fmt.Errorf("memory: list active sessions by profile: empty profile: %w", ports.ErrInvalidArgument)
	}
	return sessionPage(m.sessions.list(ctx, "active by profile", p, func(s ports.Session) bool {
		return s.Status == ports.SessionActive && s.Profile == profile
	}))
}
