package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// StoreErrorPolicy says what a credential request does when the revocation
// check cannot read the store.
type StoreErrorPolicy string

// The store-error policies. Allow is the default: a store outage should not
// stop work, while a revoke that was read is always enforced.
const (
	StoreErrorAllow StoreErrorPolicy = "allow"
	StoreErrorDeny  StoreErrorPolicy = "deny"
)

// ParseStoreErrorPolicy reads a policy name; empty means allow.
func ParseStoreErrorPolicy(s string) (StoreErrorPolicy, error) {
	switch StoreErrorPolicy(strings.ToLower(strings.TrimSpace(s))) {
	case "", StoreErrorAllow:
		return StoreErrorAllow, nil
	case StoreErrorDeny:
		return StoreErrorDeny, nil
	}
	return "", fmt.Errorf("unknown store-error policy %q: want %q or %q: %w",
		s, StoreErrorAllow, StoreErrorDeny, ports.ErrInvalidArgument)
}

// Outcome says why CheckRevocation decided as it did.
type Outcome string

// The outcomes. Only OutcomeAllowed (an active session) and
// OutcomeStoreErrorAllowed let the request through.
const (
	OutcomeAllowed           Outcome = "allowed"
	OutcomeRevoked           Outcome = "revoked"
	OutcomeExpired           Outcome = "expired"
	OutcomeNotFound          Outcome = "not_found"
	OutcomeStoreErrorAllowed Outcome = "store_error_allowed"
	OutcomeStoreErrorDenied  Outcome = "store_error_denied"
	OutcomeUnknownStatus     Outcome = "unknown_status"
	OutcomeCorrupt           Outcome = "corrupt"
)

// Verdict is the outcome of the per-request revocation check.
type Verdict struct {
	// Allowed: the request may proceed. A missing record (OutcomeNotFound)
	// is a store fault: allowed only under the allow policy.
	Allowed bool
	Outcome Outcome
	// Detail explains the verdict for logs and error messages.
	Detail string
	// Revoked* are set for OutcomeRevoked.
	RevokedBy     string
	RevokedReason string
	RevokedAt     time.Time
	// Err is the lookup error for the store-error and not-found verdicts.
	Err error
}

// policyName is the policy as a flag value would give it; empty is allow.
func policyName(p StoreErrorPolicy) StoreErrorPolicy {
	if p == StoreErrorDeny {
		return StoreErrorDeny
	}
	return StoreErrorAllow
}

// CheckRevocation decides whether a session read from the store (or the error
// reading it) lets a credential request proceed. A revoke is always enforced
// (fail closed); only a failure to read follows policy.
func CheckRevocation(s ports.Session, lookupErr error, policy StoreErrorPolicy, now time.Time) Verdict {
	if lookupErr != nil {
		if errors.Is(lookupErr, ports.ErrNotFound) {
			// A running server's record is gone (a wiped store, a deleted
			// key): a store fault. The server writes it back.
			return Verdict{Allowed: policy != StoreErrorDeny, Outcome: OutcomeNotFound, Err: lookupErr,
				Detail: fmt.Sprintf("session record not found in the store; store-error policy is %s", policyName(policy))}
		}
		// A record that cannot be trusted is never a reason to serve, whatever
		// the store-error policy says: the store answered, wrongly.
		if errors.Is(lookupErr, ports.ErrCorrupt) {
			return Verdict{Outcome: OutcomeCorrupt, Err: lookupErr,
				Detail: fmt.Sprintf("session record is corrupt; refusing: %v", lookupErr)}
		}
		if policy == StoreErrorDeny {
			return Verdict{Outcome: OutcomeStoreErrorDenied, Err: lookupErr,
				Detail: fmt.Sprintf("session store unreadable and store-error policy is deny: %v", lookupErr)}
		}
		return Verdict{Allowed: true, Outcome: OutcomeStoreErrorAllowed, Err: lookupErr,
			Detail: fmt.Sprintf("session store unreadable; allowed by store-error policy allow: %v", lookupErr)}
	}
	switch EffectiveStatus(s, now) {
	case ports.SessionActive:
		// A constant: this verdict is every served request's.
		return Verdict{Allowed: true, Outcome: OutcomeAllowed, Detail: "the session is active"}
	case ports.SessionRevoked:
		return Verdict{Outcome: OutcomeRevoked, RevokedBy: s.RevokedBy, RevokedReason: s.RevokedReason, RevokedAt: s.RevokedAt,
			Detail: fmt.Sprintf("session %s was revoked by %s at %s: %s",
				s.ID, s.RevokedBy, s.RevokedAt.UTC().Format(time.RFC3339), s.RevokedReason)}
	case ports.SessionExpired:
		return Verdict{Outcome: OutcomeExpired, Detail: "session " + s.ID + " has expired"}
	default:
		return Verdict{Outcome: OutcomeUnknownStatus,
			Detail: fmt.Sprintf("session %s has unknown status %q; refusing", s.ID, s.Status)}
	}
}

// revokeByIDAttempts bounds RevokeByID's alternation between "missing" and
// "already exists" (a server writing its record back at the same moment).
const revokeByIDAttempts = 3

// RevokeByID revokes session id. A record missing from the store (a wiped
// Redis, a deleted item) is written back revoked, so the server that holds
// the session reads the revoke and refuses: a revoke by full id works
// whatever became of the record. restored reports that case. Errors: those
// of Revoke (ErrInvalidTransition when the session has already ended,
// ErrInvalidArgument) and of the store.
func RevokeByID(ctx context.Context, store ports.SessionStore, id, by, reason string, clock ports.Clock) (s ports.Session, restored bool, err error) {
	for range revokeByIDAttempts {
		s, err = UpdateWithRetry(ctx, store, id, func(s ports.Session) (ports.Session, error) {
			return Revoke(s, by, reason, clock.Now())
		})
		if !errors.Is(err, ports.ErrNotFound) {
			return s, false, err
		}
		now := clock.Now()
		tomb, rerr := Revoke(ports.Session{ID: id, Status: ports.SessionActive, CreatedAt: now}, by, reason, now)
		if rerr != nil {
			return ports.Session{}, false, rerr
		}
		s, err = store.CreateSession(ctx, tomb)
		if !errors.Is(err, ports.ErrAlreadyExists) {
			return s, err == nil, err
		}
		// The record came back meanwhile: revoke it as it is.
	}
	return ports.Session{}, false, fmt.Errorf("revoke session %s: its record kept appearing and disappearing; run the command again: %w", id, ports.ErrConflict)
}
