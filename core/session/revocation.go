package session

import (
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
	// Allowed is false for OutcomeNotFound: the caller must decide (the
	// server recreates its record), and a caller that does not is fail-safe.
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

// CheckRevocation decides whether a session read from the store (or the error
// reading it) lets a credential request proceed. A revoke is always enforced
// (fail closed); only a failure to read follows policy.
func CheckRevocation(s ports.Session, lookupErr error, policy StoreErrorPolicy, now time.Time) Verdict {
	if lookupErr != nil {
		if errors.Is(lookupErr, ports.ErrNotFound) {
			return Verdict{Outcome: OutcomeNotFound, Err: lookupErr,
				Detail: "session record not found in the store"}
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
		return Verdict{Allowed: true, Outcome: OutcomeAllowed, Detail: "session " + s.ID + " is active"}
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
