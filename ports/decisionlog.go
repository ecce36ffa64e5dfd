package ports

import (
	"context"
	"time"
)

// DecisionRecord is one line of the decision log: what was asked, what was
// decided and why. It never holds a secret.
type DecisionRecord struct {
	Time              time.Time `json:"time"`
	RequestID         string    `json:"request_id"`
	User              string    `json:"user"`
	UserARN           string    `json:"user_arn,omitempty"`
	IdentitySource    string    `json:"identity_source"`
	Profile           string    `json:"profile"`
	Mode              string    `json:"mode"`
	SessionID         string    `json:"session_id,omitempty"`
	Effect            string    `json:"effect"`
	RuleEffect        string    `json:"rule_effect,omitempty"`
	Rule              string    `json:"rule,omitempty"`
	RuleIndex         int       `json:"rule_index"`
	Reason            string    `json:"reason"`
	Override          string    `json:"override,omitempty"` // "approval:ID" or "breakglass:ID"
	SourceIdentity    string    `json:"source_identity,omitempty"`
	ServedDuration    string    `json:"served_duration,omitempty"`
	CredentialsExpire time.Time `json:"credentials_expire,omitzero"`
	Error             string    `json:"error,omitempty"`
	// PolicyVersion is the hash of the policy that decided (policy.HashOf);
	// empty when no policy could be loaded.
	PolicyVersion string `json:"policy_version,omitempty"`
	// Outcome is allow, deny (policy or a lock), revoked (the session was
	// revoked or ended) or error (a fault: no policy, the store, the
	// source); empty in records written before it existed.
	Outcome string `json:"outcome,omitempty"`
	// Action names what a broker caller did when the record is not a
	// credential decision (open_session, revoke, request_approve, ...);
	// empty for credential requests.
	Action string `json:"action,omitempty"`
	// Target is the session, request or event an action was about, or the
	// user or profile of a bulk revoke; empty when none.
	Target string `json:"target,omitempty"`
}

// DecisionLog writes decision records.
type DecisionLog interface {
	Record(ctx context.Context, r DecisionRecord) error
}
