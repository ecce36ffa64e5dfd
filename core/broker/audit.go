package broker

import (
	"context"
	"log/slog"

	"github.com/sentinel-gw/sentinel/ports"
)

// The audit trail of team mode lives in one place, the broker's decision
// log. Credential requests are recorded by the gateway (one line each);
// Audited records every other call (who, what, on which record, allowed or
// refused and why), except heartbeats, which only renew a lease.

// Audit actions, as they appear in the decision log's "action" field.
const (
	ActionWhoAmI          = "whoami"
	ActionOpenSession     = "open_session"
	ActionCloseSession    = "close_session"
	ActionListSessions    = "list_sessions"
	ActionShowSession     = "show_session"
	ActionRevoke          = "revoke"
	ActionRequestCreate   = "request_create"
	ActionRequestApprove  = "request_approve"
	ActionRequestDeny     = "request_deny"
	ActionRequestCancel   = "request_cancel"
	ActionListRequests    = "list_requests"
	ActionShowRequest     = "show_request"
	ActionBreakGlassOpen  = "breakglass_open"
	ActionBreakGlassClose = "breakglass_close"
	ActionListBreakGlass  = "list_breakglass"
	ActionShowBreakGlass  = "show_breakglass"
)

// Audited wraps a BrokerService so each call leaves its line in log.
type Audited struct {
	ports.BrokerService
	log    ports.DecisionLog
	clock  ports.Clock
	logger *slog.Logger
}

var _ ports.BrokerService = (*Audited)(nil)

// NewAudited returns svc recording its calls in log; logger receives a
// failed write (the call's answer does not depend on it).
func NewAudited(svc ports.BrokerService, log ports.DecisionLog, clock ports.Clock, logger *slog.Logger) *Audited {
	if clock == nil {
		clock = ports.SystemClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Audited{BrokerService: svc, log: log, clock: clock, logger: logger}
}

// entry is what one call's line says besides who and when.
type entry struct {
	action, profile, sessionID, target string
}

// record writes the line of one call that returned err.
func (a *Audited) record(ctx context.Context, caller ports.Identity, e entry, err error) {
	rec := ports.DecisionRecord{
		Time: a.clock.Now(), RequestID: ports.RequestIDFrom(ctx),
		User: caller.Name, UserARN: caller.ARN, IdentitySource: caller.Source,
		Mode: "broker", Action: e.action, Profile: e.profile, SessionID: e.sessionID, Target: e.target,
		Effect: "allow", RuleIndex: -1,
	}
	if err != nil {
		rec.Effect, rec.Error = "deny", err.Error()
	}
	if lerr := a.log.Record(ctx, rec); lerr != nil {
		a.logger.Warn("decision log write failed", "action", e.action, "error", lerr)
	}
}

// audited runs one call and records it; what describes the call from its
// answer (zero when it failed).
func audited[T any](ctx context.Context, a *Audited, caller ports.Identity, e entry, call func() (T, error), what func(T, *entry)) (T, error) {
	out, err := call()
	if err == nil && what != nil {
		what(out, &e)
	}
	a.record(ctx, caller, e, err)
	return out, err
}

// WhoAmI is recorded: it is how a caller checks what the broker sees.
func (a *Audited) WhoAmI(ctx context.Context, caller ports.Identity) (ports.Identity, error) {
	return audited(ctx, a, caller, entry{action: ActionWhoAmI}, func() (ports.Identity, error) { return a.BrokerService.WhoAmI(ctx, caller) }, nil)
}

// OpenSession is recorded with the session it opened.
func (a *Audited) OpenSession(ctx context.Context, caller ports.Identity, in ports.OpenSessionInput) (ports.OpenSessionOutput, error) {
	return audited(ctx, a, caller, entry{action: ActionOpenSession, profile: in.Profile},
		func() (ports.OpenSessionOutput, error) { return a.BrokerService.OpenSession(ctx, caller, in) },
		func(o ports.OpenSessionOutput, e *entry) { e.sessionID = o.Session.ID })
}

// CloseSession is recorded.
func (a *Audited) CloseSession(ctx context.Context, caller ports.Identity, id string) error {
	_, err := audited(ctx, a, caller, entry{action: ActionCloseSession, sessionID: id},
		func() (struct{}, error) { return struct{}{}, a.BrokerService.CloseSession(ctx, caller, id) }, nil)
	return err
}

// ListSessions is recorded with its filter.
func (a *Audited) ListSessions(ctx context.Context, caller ports.Identity, in ports.ListSessionsInput) (ports.SessionPage, error) {
	return audited(ctx, a, caller, entry{action: ActionListSessions, profile: in.Profile, target: in.User},
		func() (ports.SessionPage, error) { return a.BrokerService.ListSessions(ctx, caller, in) }, nil)
}

// ShowSession is recorded.
func (a *Audited) ShowSession(ctx context.Context, caller ports.Identity, id string) (ports.Session, error) {
	return audited(ctx, a, caller, entry{action: ActionShowSession, target: id},
		func() (ports.Session, error) { return a.BrokerService.ShowSession(ctx, caller, id) },
		func(s ports.Session, e *entry) { e.sessionID, e.profile = s.ID, s.Profile })
}

// Revoke is recorded with what it selected, and each session it revoked
// with a line of its own (a revoke by id: the one line names the session).
func (a *Audited) Revoke(ctx context.Context, caller ports.Identity, in ports.RevokeInput) (ports.RevokeOutput, error) {
	if in.ID != "" {
		return audited(ctx, a, caller, entry{action: ActionRevoke, target: in.ID},
			func() (ports.RevokeOutput, error) { return a.BrokerService.Revoke(ctx, caller, in) },
			func(o ports.RevokeOutput, e *entry) {
				if len(o.Revoked) == 1 && !o.AlreadyEnded {
					e.sessionID, e.profile = o.Revoked[0].ID, o.Revoked[0].Profile
				}
			})
	}
	target := "user:" + in.User
	if in.Profile != "" {
		target = "profile:" + in.Profile
	}
	out, err := audited(ctx, a, caller, entry{action: ActionRevoke, target: target},
		func() (ports.RevokeOutput, error) { return a.BrokerService.Revoke(ctx, caller, in) }, nil)
	for _, s := range out.Revoked {
		a.record(ctx, caller, entry{action: ActionRevoke, profile: s.Profile, sessionID: s.ID, target: s.User}, nil)
	}
	return out, err
}

// CreateRequest is recorded with the request it made.
func (a *Audited) CreateRequest(ctx context.Context, caller ports.Identity, in ports.RequestInput) (ports.RequestOutput, error) {
	return audited(ctx, a, caller, entry{action: ActionRequestCreate, profile: in.Profile},
		func() (ports.RequestOutput, error) { return a.BrokerService.CreateRequest(ctx, caller, in) }, requestEntry)
}

// DecideRequest is recorded as an approval or a denial.
func (a *Audited) DecideRequest(ctx context.Context, caller ports.Identity, in ports.DecideInput) (ports.RequestOutput, error) {
	action := ActionRequestDeny
	if in.Approve {
		action = ActionRequestApprove
	}
	return audited(ctx, a, caller, entry{action: action, target: in.ID},
		func() (ports.RequestOutput, error) { return a.BrokerService.DecideRequest(ctx, caller, in) }, requestEntry)
}

// CancelRequest is recorded.
func (a *Audited) CancelRequest(ctx context.Context, caller ports.Identity, id string) (ports.RequestOutput, error) {
	return audited(ctx, a, caller, entry{action: ActionRequestCancel, target: id},
		func() (ports.RequestOutput, error) { return a.BrokerService.CancelRequest(ctx, caller, id) }, requestEntry)
}

// ListRequests is recorded with its filter.
func (a *Audited) ListRequests(ctx context.Context, caller ports.Identity, in ports.ListRequestsInput) ([]ports.ApprovalRequest, error) {
	return audited(ctx, a, caller, entry{action: ActionListRequests, profile: in.Profile, target: in.Requester},
		func() ([]ports.ApprovalRequest, error) { return a.BrokerService.ListRequests(ctx, caller, in) }, nil)
}

// ShowRequest is recorded.
func (a *Audited) ShowRequest(ctx context.Context, caller ports.Identity, id string) (ports.ApprovalRequest, error) {
	return audited(ctx, a, caller, entry{action: ActionShowRequest, target: id},
		func() (ports.ApprovalRequest, error) { return a.BrokerService.ShowRequest(ctx, caller, id) },
		func(r ports.ApprovalRequest, e *entry) { e.target, e.profile = r.ID, r.Profile })
}

// OpenBreakGlass is recorded with the event it opened.
func (a *Audited) OpenBreakGlass(ctx context.Context, caller ports.Identity, in ports.BreakGlassInput) (ports.BreakGlassOutput, error) {
	return audited(ctx, a, caller, entry{action: ActionBreakGlassOpen, profile: in.Profile},
		func() (ports.BreakGlassOutput, error) { return a.BrokerService.OpenBreakGlass(ctx, caller, in) }, breakGlassEntry)
}

// CloseBreakGlass is recorded.
func (a *Audited) CloseBreakGlass(ctx context.Context, caller ports.Identity, in ports.CloseBreakGlassInput) (ports.BreakGlassOutput, error) {
	return audited(ctx, a, caller, entry{action: ActionBreakGlassClose, target: in.ID},
		func() (ports.BreakGlassOutput, error) { return a.BrokerService.CloseBreakGlass(ctx, caller, in) }, breakGlassEntry)
}

// ListBreakGlass is recorded with its filter.
func (a *Audited) ListBreakGlass(ctx context.Context, caller ports.Identity, in ports.ListBreakGlassInput) ([]ports.BreakGlassEvent, error) {
	return audited(ctx, a, caller, entry{action: ActionListBreakGlass, profile: in.Profile, target: in.Invoker},
		func() ([]ports.BreakGlassEvent, error) { return a.BrokerService.ListBreakGlass(ctx, caller, in) }, nil)
}

// ShowBreakGlass is recorded.
func (a *Audited) ShowBreakGlass(ctx context.Context, caller ports.Identity, id string) (ports.BreakGlassEvent, error) {
	return audited(ctx, a, caller, entry{action: ActionShowBreakGlass, target: id},
		func() (ports.BreakGlassEvent, error) { return a.BrokerService.ShowBreakGlass(ctx, caller, id) },
		func(ev ports.BreakGlassEvent, e *entry) { e.target, e.profile = ev.ID, ev.Profile })
}

func requestEntry(o ports.RequestOutput, e *entry) {
	e.target, e.profile = o.Request.ID, o.Request.Profile
}

func breakGlassEntry(o ports.BreakGlassOutput, e *entry) {
	e.target, e.profile = o.Event.ID, o.Event.Profile
}
