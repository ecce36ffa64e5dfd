package broker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/sentinel-gw/sentinel/core/approval"
	"github.com/sentinel-gw/sentinel/core/breakglass"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/ports"
)

// Requests and break-glass go through the same workflows as the CLI's, with
// the verified caller as the identity; the policy read once per call
// decides who may do what.

var (
	requestKind    = record.Kind{Noun: "request", List: "sentinel requests --status all"}
	breakGlassKind = record.Kind{Noun: "break-glass", List: "sentinel breakglass-list --status all"}
)

// notifier builds the policy's notifier for one call, with a logger that
// collects delivery failures as warnings for the caller (and passes every
// record on to the broker's own logger).
func (s *Service) notifier(pol *policy.Policy) (ports.Notifier, *collected, error) {
	c := &collected{}
	if s.deps.Notifier == nil {
		return nil, c, nil
	}
	n, err := s.deps.Notifier(pol, slog.New(&collector{to: c, next: s.deps.Logger.Handler()}))
	if err != nil {
		return nil, nil, fmt.Errorf("the broker's notifications are misconfigured (its operator must fix them): %w: %w", err, ports.ErrUnavailable)
	}
	return n, c, nil
}

// collected are the warnings logged while a workflow ran.
type collected struct {
	mu   sync.Mutex
	list []string
}

func (c *collected) add(w string) {
	c.mu.Lock()
	c.list = append(c.list, w)
	c.mu.Unlock()
}

// notified returns the warnings to show: extra first, then those logged.
func (c *collected) notified(extra ...string) ports.Notified {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append(append([]string(nil), extra...), c.list...)
	if len(out) == 0 {
		return ports.Notified{}
	}
	return ports.Notified{Warnings: out}
}

// collector is a slog.Handler that turns every warning (and worse) into one
// line for the caller: the message and its attributes.
type collector struct {
	to    *collected
	next  slog.Handler
	attrs []slog.Attr
}

func (h *collector) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *collector) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var b strings.Builder
		b.WriteString(r.Message)
		write := func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%s", a.Key, a.Value)
			return true
		}
		for _, a := range h.attrs {
			write(a)
		}
		r.Attrs(write)
		h.to.add(b.String())
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *collector) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &collector{to: h.to, next: h.next.WithAttrs(attrs), attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *collector) WithGroup(name string) slog.Handler {
	return &collector{to: h.to, next: h.next.WithGroup(name), attrs: h.attrs}
}

// mayDecide reports whether caller may see r: an admin, its requester, or
// an approver of its profile.
func mayDecide(pol *policy.Policy, caller ports.Identity, r ports.ApprovalRequest) bool {
	if pol.IsAdmin(caller) || caller.Made(r.Requester, r.RequesterARN) {
		return true
	}
	rule, ok := pol.ApprovalRuleFor(r.Profile)
	return ok && rule.IsApprover(caller)
}

// findRequest finds a request (full id or unique prefix) among those the
// caller may see; one it may not see is refused with ErrForbidden.
func (s *Service) findRequest(ctx context.Context, pol *policy.Policy, caller ports.Identity, id string) (ports.ApprovalRequest, error) {
	var lists []record.Listing[ports.ApprovalRequest]
	for _, st := range approval.Statuses {
		lists = append(lists, approval.ByStatus(s.deps.Stores, st))
	}
	return findVisible(ctx, requestKind, id, s.deps.Stores.GetRequest, func(r ports.ApprovalRequest) string { return r.ID }, lists,
		func(r ports.ApprovalRequest) bool { return mayDecide(pol, caller, r) })
}

// findVisible finds a record by full id or unique prefix among those
// visible accepts (so a prefix never matches, or names, one the caller may
// not see); one named by its full id that is not visible is refused with
// ErrForbidden.
func findVisible[T any](ctx context.Context, k record.Kind, id string, get func(context.Context, string) (T, error),
	idOf func(T) string, lists []record.Listing[T], visible func(T) bool,
) (T, error) {
	r, err := record.FindAmong(ctx, k, id, get, idOf, visible, lists...)
	if err != nil {
		return r, err
	}
	if !visible(r) {
		var zero T
		return zero, fmt.Errorf("%s %s is not yours, and the policy gives you no part in it: %w", k.Noun, idOf(r), ports.ErrForbidden)
	}
	return r, nil
}

// CreateRequest asks for approval to use a profile, as the caller.
func (s *Service) CreateRequest(ctx context.Context, caller ports.Identity, in ports.RequestInput) (ports.RequestOutput, error) {
	pol, err := s.callerPolicy(caller)
	if err != nil {
		return ports.RequestOutput{}, err
	}
	rule, ok := pol.ApprovalRuleFor(in.Profile)
	if !ok {
		return ports.RequestOutput{}, forbidden(approval.NoRule(in.Profile))
	}
	id, err := record.NewID()
	if err != nil {
		return ports.RequestOutput{}, err
	}
	draft, err := approval.NewDraft(approval.Submission{ID: id, Requester: caller, Profile: in.Profile,
		Justification: in.Justification, Duration: in.Duration, Rule: rule}, s.deps.Clock.Now())
	if err != nil {
		return ports.RequestOutput{}, forbidden(err)
	}
	n, warnings, err := s.notifier(pol)
	if err != nil {
		return ports.RequestOutput{}, err
	}
	submitted, err := approval.Workflows{Store: s.deps.Stores, Notifier: n, Clock: s.deps.Clock}.Submit(ctx, draft)
	if err != nil && submitted.Request.ID == "" {
		return ports.RequestOutput{}, forbidden(err)
	}
	// A request created but not auto-approved is still the caller's to see.
	return ports.RequestOutput{Request: submitted.Request, Notified: warnings.notified(draft.Warnings...)}, forbidden(err)
}

// DecideRequest approves or denies a pending request: an approver of its
// profile who is not its requester (self-approval is refused).
func (s *Service) DecideRequest(ctx context.Context, caller ports.Identity, in ports.DecideInput) (ports.RequestOutput, error) {
	pol, err := s.callerPolicy(caller)
	if err != nil {
		return ports.RequestOutput{}, err
	}
	found, err := s.findRequest(ctx, pol, caller, in.ID)
	if err != nil {
		return ports.RequestOutput{}, err
	}
	rule, _ := pol.ApprovalRuleFor(found.Profile)
	n, warnings, err := s.notifier(pol)
	if err != nil {
		return ports.RequestOutput{}, err
	}
	r, err := approval.Workflows{Store: s.deps.Stores, Notifier: n, Clock: s.deps.Clock}.Decide(ctx, approval.Decision{
		ID: found.ID, Who: caller, Approve: in.Approve, Comment: in.Comment, Rule: rule})
	if err != nil {
		return ports.RequestOutput{}, forbidden(err)
	}
	return ports.RequestOutput{Request: r, Notified: warnings.notified()}, nil
}

// CancelRequest withdraws a request (its requester) or ends an approved
// one early (its requester or an approver).
func (s *Service) CancelRequest(ctx context.Context, caller ports.Identity, id string) (ports.RequestOutput, error) {
	pol, err := s.callerPolicy(caller)
	if err != nil {
		return ports.RequestOutput{}, err
	}
	found, err := s.findRequest(ctx, pol, caller, id)
	if err != nil {
		return ports.RequestOutput{}, err
	}
	rule, _ := pol.ApprovalRuleFor(found.Profile)
	r, err := approval.Workflows{Store: s.deps.Stores, Clock: s.deps.Clock}.Cancel(ctx, found.ID, caller, rule)
	if err != nil {
		return ports.RequestOutput{}, forbidden(err)
	}
	return ports.RequestOutput{Request: r}, nil
}

// ListRequests lists requests newest first: an admin's all, an approver's
// those for profiles they approve plus their own, anyone else's their own.
func (s *Service) ListRequests(ctx context.Context, caller ports.Identity, in ports.ListRequestsInput) ([]ports.ApprovalRequest, error) {
	pol, err := s.callerPolicy(caller)
	if err != nil {
		return nil, err
	}
	limit, err := listLimit(in.Limit)
	if err != nil {
		return nil, err
	}
	return approval.List(ctx, s.deps.Stores, approval.Filter{Status: in.Status, Requester: in.Requester, Profile: in.Profile,
		Keep: func(r ports.ApprovalRequest) bool { return mayDecide(pol, caller, r) }}, limit)
}

// ShowRequest returns one request the caller may see.
func (s *Service) ShowRequest(ctx context.Context, caller ports.Identity, id string) (ports.ApprovalRequest, error) {
	pol, err := s.callerPolicy(caller)
	if err != nil {
		return ports.ApprovalRequest{}, err
	}
	return s.findRequest(ctx, pol, caller, id)
}

// maySee reports whether caller may see e: an admin, or its invoker.
func maySee(pol *policy.Policy, caller ports.Identity, e ports.BreakGlassEvent) bool {
	return pol.IsAdmin(caller) || caller.Made(e.Invoker, e.InvokerARN)
}

// findBreakGlass finds an event (full id or unique prefix) among those the
// caller may see; one it may not see is refused with ErrForbidden.
func (s *Service) findBreakGlass(ctx context.Context, pol *policy.Policy, caller ports.Identity, id string) (ports.BreakGlassEvent, error) {
	var lists []record.Listing[ports.BreakGlassEvent]
	for _, st := range breakglass.Statuses {
		lists = append(lists, breakglass.ByStatus(s.deps.Stores, st))
	}
	return findVisible(ctx, breakGlassKind, id, s.deps.Stores.GetBreakGlass, func(e ports.BreakGlassEvent) string { return e.ID }, lists,
		func(e ports.BreakGlassEvent) bool { return maySee(pol, caller, e) })
}

// OpenBreakGlass invokes emergency access, as the caller.
func (s *Service) OpenBreakGlass(ctx context.Context, caller ports.Identity, in ports.BreakGlassInput) (ports.BreakGlassOutput, error) {
	pol, err := s.callerPolicy(caller)
	if err != nil {
		return ports.BreakGlassOutput{}, err
	}
	rule, _ := pol.BreakGlassRuleFor(caller, in.Profile)
	id, err := record.NewID()
	if err != nil {
		return ports.BreakGlassOutput{}, err
	}
	n, warnings, err := s.notifier(pol)
	if err != nil {
		return ports.BreakGlassOutput{}, err
	}
	opened, err := breakglass.Workflows{Store: s.deps.Stores, Notifier: n, Clock: s.deps.Clock}.Open(ctx, breakglass.Opening{
		ID: id, Invoker: caller, Profile: in.Profile, ReasonCode: in.ReasonCode, Justification: in.Justification,
		Duration: in.Duration, Rule: rule})
	if err != nil {
		return ports.BreakGlassOutput{}, forbidden(err)
	}
	return ports.BreakGlassOutput{Event: opened.Event, Notified: warnings.notified(opened.Warnings...)}, nil
}

// CloseBreakGlass ends an event early: its invoker, or whoever the
// break-glass rules let close it.
func (s *Service) CloseBreakGlass(ctx context.Context, caller ports.Identity, in ports.CloseBreakGlassInput) (ports.BreakGlassOutput, error) {
	pol, err := s.callerPolicy(caller)
	if err != nil {
		return ports.BreakGlassOutput{}, err
	}
	found, err := s.findBreakGlass(ctx, pol, caller, in.ID)
	if err != nil {
		return ports.BreakGlassOutput{}, err
	}
	rule, _ := pol.BreakGlassRuleFor(caller, found.Profile)
	n, warnings, err := s.notifier(pol)
	if err != nil {
		return ports.BreakGlassOutput{}, err
	}
	e, err := breakglass.Workflows{Store: s.deps.Stores, Notifier: n, Clock: s.deps.Clock}.Close(ctx, found.ID, caller, rule, in.Reason)
	if err != nil {
		return ports.BreakGlassOutput{}, forbidden(err)
	}
	return ports.BreakGlassOutput{Event: e, Notified: warnings.notified()}, nil
}

// ListBreakGlass lists events newest first: an admin's all, anyone else's
// their own.
func (s *Service) ListBreakGlass(ctx context.Context, caller ports.Identity, in ports.ListBreakGlassInput) ([]ports.BreakGlassEvent, error) {
	pol, err := s.callerPolicy(caller)
	if err != nil {
		return nil, err
	}
	limit, err := listLimit(in.Limit)
	if err != nil {
		return nil, err
	}
	return breakglass.List(ctx, s.deps.Stores, breakglass.Filter{Status: in.Status, Invoker: in.Invoker, Profile: in.Profile,
		Keep: func(e ports.BreakGlassEvent) bool { return maySee(pol, caller, e) }}, limit)
}

// ShowBreakGlass returns one event the caller may see.
func (s *Service) ShowBreakGlass(ctx context.Context, caller ports.Identity, id string) (ports.BreakGlassEvent, error) {
	pol, err := s.callerPolicy(caller)
	if err != nil {
		return ports.BreakGlassEvent{}, err
	}
	return s.findBreakGlass(ctx, pol, caller, id)
}

// listLimit checks a listing's limit; 0 means the default.
func listLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return defaultListLimit, nil
	case limit < 0 || limit > ports.MaxPageLimit:
		return 0, fmt.Errorf("limit %d outside 1..%d: %w", limit, ports.MaxPageLimit, ports.ErrInvalidArgument)
	}
	return limit, nil
}
