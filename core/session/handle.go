package session

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sentinel-gw/sentinel/ports"
)

// WithAssumedRole returns s holding the handles AWS knows one credential fill
// by: the SourceIdentity STS received, the role ARN and the AssumedRoleId.
// Lists keep first-seen order without repeats; s's own slices are never
// written to. changed is false when s already held them all, and for a fill
// that assumed no role (a pass-through or GetSessionToken).
func WithAssumedRole(s ports.Session, o ports.CredentialOrigin) (out ports.Session, changed bool) {
	if o.RoleARN == "" {
		return s, false
	}
	if o.SourceIdentity != "" && s.SourceIdentity != o.SourceIdentity {
		s.SourceIdentity, changed = o.SourceIdentity, true
	}
	if !slices.Contains(s.RoleARNs, o.RoleARN) {
		s.RoleARNs, changed = append(slices.Clip(s.RoleARNs), o.RoleARN), true
	}
	if o.AssumedRoleID != "" && !slices.Contains(s.AssumedRoleIDs, o.AssumedRoleID) {
		s.AssumedRoleIDs, changed = append(slices.Clip(s.AssumedRoleIDs), o.AssumedRoleID), true
	}
	return s, changed
}

// errUnchanged ends an update that would write nothing new.
var errUnchanged = errors.New("session already holds these handles")

// RecordAssumedRole stores o's handles on session id (see WithAssumedRole),
// with the optimistic-locking loop, so a revoke that lands first is kept. It
// writes nothing when the record already holds them, and returns the record
// as stored (or as read, when unchanged).
func RecordAssumedRole(ctx context.Context, store ports.SessionStore, id string, o ports.CredentialOrigin) (ports.Session, error) {
	var seen ports.Session
	saved, err := UpdateWithRetry(ctx, store, id, func(s ports.Session) (ports.Session, error) {
		seen = s
		next, changed := WithAssumedRole(s, o)
		if !changed {
			return s, errUnchanged
		}
		return next, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return seen, nil
	case err != nil:
		return ports.Session{}, fmt.Errorf("record role %s on session %s: %w", o.RoleARN, id, err)
	}
	return saved, nil
}
