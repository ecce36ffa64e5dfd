package session

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// sessionIn returns activeSession moved into one of the shapes the state
// machine must tell apart.
func sessionIn(shape string) ports.Session {
	s := activeSession()
	switch shape {
	case "revoked":
		s.Status = ports.SessionRevoked
		s.RevokedBy, s.RevokedReason, s.RevokedAt = "bob", "leaked laptop", t0.Add(10*time.Second)
	case "expired":
		s.Status = ports.SessionExpired
	case "lapsed": // stored active, lease over at the test's now
		s.ExpiresAt = t0.Add(-time.Second)
	case "unknown":
		s.Status = "paused"
	}
	return s
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	now := t0.Add(30 * time.Second)
	tests := []struct {
		name, shape, by, reason string
		wantErr                 error
		wantMsg                 string
	}{
		{"active is revoked", "active", "bob", "incident 42", nil, ""},
		{"missing by", "active", " ", "incident 42", ports.ErrInvalidArgument, "who revokes"},
		{"missing reason", "active", "bob", "", ports.ErrInvalidArgument, "reason is required"},
		{"already revoked", "revoked", "carol", "again", ports.ErrInvalidTransition,
			"session " + testID + " is already revoked (by bob at 2026-11-03T09:00:10Z: leaked laptop)"},
		{"already expired", "expired", "carol", "late", ports.ErrInvalidTransition, "session " + testID + " has already expired"},
		{"lapsed counts as expired", "lapsed", "carol", "late", ports.ErrInvalidTransition, "has already expired"},
		{"unknown status", "unknown", "carol", "why", ports.ErrInvalidTransition, "unknown status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Revoke(sessionIn(tt.shape), tt.by, tt.reason, now)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("Revoke error = %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if got.Status != ports.SessionRevoked || got.RevokedBy != tt.by || got.RevokedReason != tt.reason ||
				!got.RevokedAt.Equal(now) || !got.UpdatedAt.Equal(now) {
				t.Fatalf("Revoke result %+v lacks the revocation fields", got)
			}
		})
	}
}

func TestExpire(t *testing.T) {
	t.Parallel()
	now := t0.Add(30 * time.Second)
	tests := []struct {
		shape   string
		wantErr error
		wantMsg string
	}{
		{"active", nil, ""},
		{"lapsed", nil, ""}, // writing expired is what a lapsed record needs
		{"revoked", ports.ErrInvalidTransition, "is already revoked (by bob"},
		{"expired", ports.ErrInvalidTransition, "has already expired"},
		{"unknown", ports.ErrInvalidTransition, "unknown status"},
	}
	for _, tt := range tests {
		t.Run(tt.shape, func(t *testing.T) {
			t.Parallel()
			got, err := Expire(sessionIn(tt.shape), now)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("Expire error = %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Expire: %v", err)
			}
			if got.Status != ports.SessionExpired || !got.UpdatedAt.Equal(now) {
				t.Fatalf("Expire result %+v", got)
			}
		})
	}
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	now := t0.Add(30 * time.Second)
	tests := []struct {
		shape   string
		lease   time.Duration
		wantErr error
		wantMsg string
	}{
		{"active", time.Minute, nil, ""},
		{"active", 0, ports.ErrInvalidArgument, "must be positive"},
		{"revoked", time.Minute, ports.ErrInvalidTransition, "already revoked"},
		{"expired", time.Minute, ports.ErrInvalidTransition, "already expired"},
		{"lapsed", time.Minute, ports.ErrInvalidTransition, "already expired"},
	}
	for _, tt := range tests {
		t.Run(tt.shape+"/"+tt.lease.String(), func(t *testing.T) {
			t.Parallel()
			got, err := Heartbeat(sessionIn(tt.shape), now, tt.lease)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("Heartbeat error = %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Heartbeat: %v", err)
			}
			if !got.ExpiresAt.Equal(now.Add(tt.lease)) || got.Status != ports.SessionActive || !got.UpdatedAt.Equal(now) {
				t.Fatalf("Heartbeat result %+v, want active until %s", got, now.Add(tt.lease))
			}
		})
	}
}

func TestEffectiveStatus(t *testing.T) {
	t.Parallel()
	now := t0
	tests := []struct {
		shape string
		want  ports.SessionStatus
	}{
		{"active", ports.SessionActive},
		{"lapsed", ports.SessionExpired},
		{"revoked", ports.SessionRevoked},
		{"expired", ports.SessionExpired},
	}
	for _, tt := range tests {
		if got := EffectiveStatus(sessionIn(tt.shape), now); got != tt.want {
			t.Errorf("EffectiveStatus(%s) = %s, want %s", tt.shape, got, tt.want)
		}
	}
	// The lease ends exactly at ExpiresAt.
	s := activeSession()
	if got := EffectiveStatus(s, s.ExpiresAt); got != ports.SessionExpired {
		t.Errorf("at ExpiresAt the status is %s, want expired", got)
	}
}
