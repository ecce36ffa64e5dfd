package gateway

import "errors"

// Outcomes of a credential request, as DecisionRecord.Outcome and the
// metrics name them.
const (
	OutcomeAllow   = "allow"   // credentials served
	OutcomeDeny    = "deny"    // policy (after overrides) or a lock refused
	OutcomeRevoked = "revoked" // the session was revoked or has ended
	OutcomeError   = "error"   // a fault: the policy could not be loaded, the store, the source
)

// OutcomeOf classifies what Issue returned.
func OutcomeOf(err error) string {
	if err == nil {
		// Before the targets below: errors.As moves them to the heap, four
		// allocations on every served request otherwise.
		return OutcomeAllow
	}
	var (
		denied  *DeniedError
		locked  *LockedError
		revoked *RevokedError
		ended   *SessionEndedError
	)
	switch {
	case errors.As(err, &revoked), errors.As(err, &ended):
		return OutcomeRevoked
	case errors.As(err, &denied) && !denied.policyUnavailable, errors.As(err, &locked):
		return OutcomeDeny
	default:
		return OutcomeError
	}
}
