package ports

import (
	"context"
	"errors"
	"time"
)

// Team mode: `sentinel serve` runs a broker that alone holds the store and
// the AWS identity the target roles trust; every command given --broker
// talks only to it. These are the broker's operations, its callers' proof of
// identity, and the errors both ends agree on.

// BrokerHeader names the broker in a caller's signed sts:GetCallerIdentity
// request. It must be among the signed headers, so a proof made for one
// broker cannot be replayed to another service.
const BrokerHeader = "X-Sentinel-Broker"

// ProofMaxAge is how old a caller's signature (its X-Amz-Date) may be when
// the broker checks it; a verified identity is cached no longer than this.
const ProofMaxAge = 5 * time.Minute

// Errors of team mode, wrapped with context like the store's.
var (
	// ErrUnauthenticated: the caller's proof of identity is missing, malformed,
	// stale, made for another broker, or refused by STS.
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrForbidden: the caller is known but not permitted (not an admin, not
	// the owner of the session, request or event).
	ErrForbidden = errors.New("not permitted")
)

// CallerSigner makes a caller's proof of identity: an opaque string (a
// SigV4-signed sts:GetCallerIdentity request naming the broker), sent with
// every broker call. It may reuse a proof while it is young.
type CallerSigner interface {
	Proof(ctx context.Context) (string, error)
}

// CallerVerifier checks a proof and returns who made it. Errors wrap
// ErrUnauthenticated when the proof is refused, ErrUnavailable when STS
// could not be asked.
type CallerVerifier interface {
	Verify(ctx context.Context, proof string) (Identity, error)
}

// CallerRecaller is a CallerVerifier that can answer from memory alone for
// a proof it verified before and that is still young. The broker lets such
// a proof through without spending the failure throttle of its address:
// only proofs that would reach STS are throttled, so failed proofs from an
// address (say, a load balancer's) do not hold back callers already known.
type CallerRecaller interface {
	CallerVerifier
	Recall(proof string) (Identity, bool)
}

// OpenSessionInput starts a server session at the broker for the caller.
type OpenSessionInput struct {
	Profile string `json:"profile"`
	// Duration is the lifetime asked of each served credential, before policy
	// caps it; zero means the broker's default.
	Duration time.Duration `json:"duration,omitempty"`
	// RevocationPoll is recorded on the session as in solo mode (it bounds
	// how long a revoke waits for a confirmation); zero means the default.
	RevocationPoll time.Duration `json:"revocation_poll,omitempty"`
}

// OpenSessionOutput is the opened session and the heartbeat contract: the
// client calls Heartbeat at least every Heartbeat; a session whose last
// heartbeat is older than Lease counts as expired.
type OpenSessionOutput struct {
	Session   Session       `json:"session"`
	Heartbeat time.Duration `json:"heartbeat"`
	Lease     time.Duration `json:"lease"`
	// Warning, when set, says that policy denies the profile right now (an
	// approval or break-glass may allow later requests).
	Warning string `json:"warning,omitempty"`
}

// SessionCredentialsInput asks for credentials for one request of the
// caller's own session.
type SessionCredentialsInput struct {
	SessionID string `json:"session_id"`
	// RequestID is the local server's request id, for the decision log.
	RequestID string `json:"request_id,omitempty"`
	// Duration is the lifetime asked of the credential before policy caps
	// it (the OpenSessionInput's, sent again so any replica can serve);
	// zero means the broker's default.
	Duration time.Duration `json:"duration,omitempty"`
}

// OneShotInput asks for one set of credentials outside a server session:
// Mode is cli (exec without --server), credential_process or console.
type OneShotInput struct {
	Profile  string        `json:"profile"`
	Mode     string        `json:"mode"`
	Duration time.Duration `json:"duration,omitempty"`
}

// ListSessionsInput filters the session listing; Status "" or "all" means
// every status. Non-admins see only their own sessions whatever User says.
type ListSessionsInput struct {
	Status  string        `json:"status,omitempty"`
	User    string        `json:"user,omitempty"`
	Profile string        `json:"profile,omitempty"`
	Since   time.Duration `json:"since,omitempty"`
	Limit   int           `json:"limit,omitempty"`
	Cursor  string        `json:"cursor,omitempty"`
}

// RevokeInput revokes one session (ID: full id or unique prefix) or every
// active session of a User or a Profile (exactly one of the three).
type RevokeInput struct {
	ID      string `json:"id,omitempty"`
	User    string `json:"user,omitempty"`
	Profile string `json:"profile,omitempty"`
	Reason  string `json:"reason"`
	// AtAWS also denies the revoked sessions' credentials at AWS (see
	// core/awsdeny); FallbackAllSessions and AllUserSessions are
	// server-revoke's flags of the same names.
	AtAWS               bool `json:"at_aws,omitempty"`
	FallbackAllSessions bool `json:"fallback_all_sessions,omitempty"`
	AllUserSessions     bool `json:"all_user_sessions,omitempty"`
}

// RevokeOutput lists what a revoke did: Revoked the sessions it ended,
// AlreadyEnded a single session that was already revoked or expired, Failed
// one message per session it could not revoke.
type RevokeOutput struct {
	Revoked      []Session `json:"revoked"`
	AlreadyEnded bool      `json:"already_ended,omitempty"`
	Failed       []string  `json:"failed,omitempty"`
	// Denials is what the revoke at AWS did, one per role or user, when
	// asked (RevokeInput.AtAWS or the policy's revoke_at_aws).
	Denials []AWSDenial `json:"denials,omitempty"`
}

// RequestInput asks for approval to use a profile.
type RequestInput struct {
	Profile       string        `json:"profile"`
	Justification string        `json:"justification"`
	Duration      time.Duration `json:"duration"`
}

// DecideInput approves (Approve true) or denies a pending request.
type DecideInput struct {
	ID      string `json:"id"`
	Approve bool   `json:"approve"`
	Comment string `json:"comment,omitempty"`
}

// ListRequestsInput filters the request listing ("" or "all": every status).
type ListRequestsInput struct {
	Status    string `json:"status,omitempty"`
	Requester string `json:"requester,omitempty"`
	Profile   string `json:"profile,omitempty"`
	Limit     int    `json:"limit,omitempty"`
}

// BreakGlassInput invokes emergency access.
type BreakGlassInput struct {
	Profile       string        `json:"profile"`
	ReasonCode    string        `json:"reason_code"`
	Justification string        `json:"justification"`
	Duration      time.Duration `json:"duration"`
}

// CloseBreakGlassInput closes an event early.
type CloseBreakGlassInput struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// ListBreakGlassInput filters the break-glass listing ("" or "all": every status).
type ListBreakGlassInput struct {
	Status  string `json:"status,omitempty"`
	Invoker string `json:"invoker,omitempty"`
	Profile string `json:"profile,omitempty"`
	Limit   int    `json:"limit,omitempty"`
}

// Notified reports the notifications a workflow sent (or failed to send),
// so the client can print them as solo mode does.
type Notified struct {
	Warnings []string `json:"warnings,omitempty"`
}

// RequestOutput is a request after a workflow step.
type RequestOutput struct {
	Request ApprovalRequest `json:"request"`
	Notified
}

// BreakGlassOutput is an event after a workflow step.
type BreakGlassOutput struct {
	Event BreakGlassEvent `json:"event"`
	Notified
}

// BrokerService is the broker's side: every operation takes the caller the
// transport has verified. Permissions come from the broker's policy: admins
// list and revoke everyone's sessions; approvers decide requests; everyone
// else sees and cancels only their own. Errors wrap ErrForbidden,
// ErrNotFound, ErrInvalidArgument, ErrUnavailable, or are the gateway's
// typed refusals (denied, revoked, expired, locked, store, source).
type BrokerService interface {
	WhoAmI(ctx context.Context, caller Identity) (Identity, error)

	OpenSession(ctx context.Context, caller Identity, in OpenSessionInput) (OpenSessionOutput, error)
	Heartbeat(ctx context.Context, caller Identity, sessionID string) (Session, error)
	CloseSession(ctx context.Context, caller Identity, sessionID string) error
	SessionCredentials(ctx context.Context, caller Identity, in SessionCredentialsInput) (Credentials, error)
	OneShot(ctx context.Context, caller Identity, in OneShotInput) (Credentials, error)

	ListSessions(ctx context.Context, caller Identity, in ListSessionsInput) (SessionPage, error)
	ShowSession(ctx context.Context, caller Identity, id string) (Session, error)
	Revoke(ctx context.Context, caller Identity, in RevokeInput) (RevokeOutput, error)

	CreateRequest(ctx context.Context, caller Identity, in RequestInput) (RequestOutput, error)
	DecideRequest(ctx context.Context, caller Identity, in DecideInput) (RequestOutput, error)
	CancelRequest(ctx context.Context, caller Identity, id string) (RequestOutput, error)
	ListRequests(ctx context.Context, caller Identity, in ListRequestsInput) ([]ApprovalRequest, error)
	ShowRequest(ctx context.Context, caller Identity, id string) (ApprovalRequest, error)

	OpenBreakGlass(ctx context.Context, caller Identity, in BreakGlassInput) (BreakGlassOutput, error)
	CloseBreakGlass(ctx context.Context, caller Identity, in CloseBreakGlassInput) (BreakGlassOutput, error)
	ListBreakGlass(ctx context.Context, caller Identity, in ListBreakGlassInput) ([]BreakGlassEvent, error)
	ShowBreakGlass(ctx context.Context, caller Identity, id string) (BreakGlassEvent, error)

	// Ready reports whether the broker can serve: its store answers and its
	// policy is loaded (for /readyz).
	Ready(ctx context.Context) error
}

// requestIDKey carries a broker call's request id in its context.
type requestIDKey struct{}

// WithRequestID returns ctx carrying the transport's request id, so the
// audit lines of one call name it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id WithRequestID put in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
