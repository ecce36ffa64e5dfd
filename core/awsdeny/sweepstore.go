package awsdeny

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// DefaultLookback is how far back SweepStore looks for revoked sessions
// whose roles may carry a deny: far more than RoleCredentialMax, so a
// sweep that did not run for days still finds every role.
const DefaultLookback = 7 * 24 * time.Hour

// SweepStore is the sweep a broker runs on a timer: it sweeps the roles of
// every session revoked in the store that was created within lookback
// (DefaultLookback when zero) of now, the IAM users of those that assumed
// no role (a revoke may have denied all their sessions), plus extraRoles
// and users. A store
// error stops the listing but the roles found so far, and the extra ones,
// are still swept; the error is among Failed.
func SweepStore(ctx context.Context, store ports.SessionStore, p ports.InlinePolicies, extraRoles, users []string, lookback time.Duration, now time.Time) SweepResult {
	if lookback <= 0 {
		lookback = DefaultLookback
	}
	sessions, err := revokedSince(ctx, store, now.Add(-lookback))
	roles := append(RolesOf(sessions), extraRoles...)
	r := Sweep(ctx, p, dedupe(roles), dedupe(append(UsersOf(sessions), users...)), now)
	if err != nil {
		r.Failed = append(r.Failed, fmt.Errorf("list revoked sessions (the roles found so far were swept): %w", err))
	}
	return r
}

// revokedSince lists revoked sessions created at or after since, newest first.
func revokedSince(ctx context.Context, store ports.SessionStore, since time.Time) ([]ports.Session, error) {
	var out []ports.Session
	page := ports.Page{Limit: ports.MaxPageLimit}
	for {
		got, err := store.ListSessionsByStatus(ctx, ports.SessionRevoked, page)
		if err != nil {
			return out, err
		}
		for _, s := range got.Sessions {
			if s.CreatedAt.Before(since) {
				return out, nil
			}
			out = append(out, s)
		}
		if got.Next == "" {
			return out, nil
		}
		page.Cursor = got.Next
	}
}

func dedupe(names []string) []string {
	seen := map[string]bool{}
	out := names[:0:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
