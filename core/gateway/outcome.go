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

// OutcomeOf classifies what Issue returned. errors.AsType, not errors.As:
// the latter's targets move to the heap, allocations on every request.
func OutcomeOf(err error) string {
	denied, isDenied := errors.AsType[*DeniedError](err)
	switch {
	case err == nil:
		return OutcomeAllow
	case is[*RevokedError](err), is[*SessionEndedError](err):
		return OutcomeRevoked
	case isDenied && !denied.policyUnavailable, is[*LockedError](err):
		return OutcomeDeny
	default:
		return OutcomeError
	}
}

// is reports whether err's chain holds an error of type T.
func is[T error](err error) bool {
	_, ok := errors.AsType[T](err)
	return ok
}
