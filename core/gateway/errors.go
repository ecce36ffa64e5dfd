package gateway

import (
	"fmt"
	"time"
)

// DeniedError: policy (after overrides) refused the request. Its message
// names the rule and the reason, and says what would get access.
type DeniedError struct {
	Profile                 string
	Rule                    string // empty when no rule matched
	Reason                  string
	RequiresServerMode      bool
	RequiresSessionTracking bool
	RequiresApproval        bool
	// RequiresSessionStore is the store a session_store rule asks for.
	RequiresSessionStore string

	// policyUnavailable: no policy could be loaded (a fault, not a rule's deny).
	policyUnavailable bool
}

func (e *DeniedError) Error() string {
	rule := e.Rule
	if rule == "" {
		rule = "(none)"
	}
	return fmt.Sprintf("policy denied: rule %s: %s%s", rule, e.Reason, e.remedy())
}

// remedy says what would get access; empty for a plain deny.
func (e *DeniedError) remedy() string {
	switch {
	case e.RequiresServerMode:
		return fmt.Sprintf("; this profile requires server mode: add --server (sentinel exec --server --profile %s -- CMD)", e.Profile)
	case e.RequiresSessionStore != "":
		return fmt.Sprintf("; this profile requires its session tracked in store %s: run with --store (or SENTINEL_STORE) set to that store, with session tracking on", e.RequiresSessionStore)
	case e.RequiresSessionTracking:
		return "; this profile requires a tracked server session: configure a store (--store or SENTINEL_STORE) and keep session tracking on"
	case e.RequiresApproval:
		return fmt.Sprintf("; this profile requires approval: run sentinel request --profile %s --justification TEXT, and ask an approver", e.Profile)
	}
	return ""
}

// RevokedError: the session was revoked; this is terminal.
type RevokedError struct {
	SessionID string
	By        string
	Reason    string
	At        time.Time
}

func (e *RevokedError) Error() string {
	if e.At.IsZero() {
		return fmt.Sprintf("session revoked by %s: %s", e.By, e.Reason)
	}
	return fmt.Sprintf("session revoked by %s at %s: %s", e.By, e.At.UTC().Format(time.RFC3339), e.Reason)
}

// SessionEndedError: the session expired and cannot serve.
type SessionEndedError struct {
	SessionID string
}

func (e *SessionEndedError) Error() string {
	return fmt.Sprintf("session %s has expired; restart sentinel exec --server", e.SessionID)
}

// StoreError: the revocation check could not reach the store and the
// on-store-error setting is deny, or the session record is corrupt (which
// is refused whatever the setting).
type StoreError struct {
	Err     error
	Corrupt bool
	// Missing: the record is not in the store (the server is writing it back).
	Missing bool
	// Lost: the record of a session served without a running server of
	// its own (at a broker) is not in the store; nothing writes it back.
	Lost bool
}

func (e *StoreError) Error() string {
	if e.Corrupt {
		return "the session record in the store is corrupt: refusing (inspect it with sentinel server-session, or start a new session)"
	}
	if e.Lost {
		return "the session record is gone from the store: refusing (start a new session with sentinel exec --server)"
	}
	if e.Missing {
		return "session record missing from the store and --on-store-error=deny: refusing until the server has written it back (retry shortly)"
	}
	return "session store unavailable and --on-store-error=deny: refusing (check the store, or retry)"
}

func (e *StoreError) Unwrap() error { return e.Err }

// SourceError: the credential source (STS, the profile) failed.
type SourceError struct {
	Profile string
	Err     error
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("credential source for profile %q failed: %v", e.Profile, e.Err)
}

func (e *SourceError) Unwrap() error { return e.Err }
