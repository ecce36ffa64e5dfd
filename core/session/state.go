// Package session holds the pure rules for server sessions: the state
// machine, the one optimistic-locking retry loop, the revocation verdict,
// the AWS handles recorded on a session, the Tracker that keeps a running
// server's session record alive, the View that answers revocation checks
// from memory, and bulk revocation over the session store. Id minting is in
// core/record; overrides, duration capping and STS names are the request
// pipeline's, in core/gateway.
package session

import (
	"fmt"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// EffectiveStatus is the status s has at now: a lapsed active session is expired.
func EffectiveStatus(s ports.Session, now time.Time) ports.SessionStatus {
	if s.Lapsed(now) {
		return ports.SessionExpired
	}
	return s.Status
}

// Revoke moves an active session to revoked. Revoked and expired (including
// lapsed) sessions are terminal: the error wraps ports.ErrInvalidTransition
// and says which state the session was in.
func Revoke(s ports.Session, by, reason string, now time.Time) (ports.Session, error) {
	if strings.TrimSpace(by) == "" {
		return ports.Session{}, fmt.Errorf("revoke session %s: who revokes it is required: %w", s.ID, ports.ErrInvalidArgument)
	}
	if strings.TrimSpace(reason) == "" {
		return ports.Session{}, fmt.Errorf("revoke session %s: a reason is required: %w", s.ID, ports.ErrInvalidArgument)
	}
	if err := requireActive(s, now); err != nil {
		return ports.Session{}, err
	}
	s.Status = ports.SessionRevoked
	s.RevokedBy = by
	s.RevokedReason = reason
	s.RevokedAt = now
	s.UpdatedAt = now
	return s, nil
}

// Expire moves an active session to expired. Unlike Revoke it accepts a lapsed
// session whose stored status is still active: writing expired is exactly
// what that session needs. A session stored as revoked or expired is refused.
func Expire(s ports.Session, now time.Time) (ports.Session, error) {
	if s.Status != ports.SessionActive {
		return ports.Session{}, notActiveError(s, s.Status)
	}
	s.Status = ports.SessionExpired
	s.UpdatedAt = now
	return s, nil
}

// Heartbeat renews the lease of an effectively active session to now+lease.
func Heartbeat(s ports.Session, now time.Time, lease time.Duration) (ports.Session, error) {
	if lease <= 0 {
		return ports.Session{}, fmt.Errorf("heartbeat session %s: lease %s must be positive: %w", s.ID, lease, ports.ErrInvalidArgument)
	}
	if err := requireActive(s, now); err != nil {
		return ports.Session{}, err
	}
	s.ExpiresAt = now.Add(lease)
	s.UpdatedAt = now
	return s, nil
}

// requireActive refuses any session that is not effectively active at now.
func requireActive(s ports.Session, now time.Time) error {
	if status := EffectiveStatus(s, now); status != ports.SessionActive {
		return notActiveError(s, status)
	}
	return nil
}

func notActiveError(s ports.Session, status ports.SessionStatus) error {
	switch status {
	case ports.SessionRevoked:
		return fmt.Errorf("session %s is already revoked (by %s at %s: %s): %w",
			s.ID, s.RevokedBy, s.RevokedAt.UTC().Format(time.RFC3339), s.RevokedReason, ports.ErrInvalidTransition)
	case ports.SessionExpired:
		return fmt.Errorf("session %s has already expired: %w", s.ID, ports.ErrInvalidTransition)
	default:
		return fmt.Errorf("session %s has unknown status %q: %w", s.ID, status, ports.ErrInvalidTransition)
	}
}
