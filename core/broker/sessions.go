package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sentinel-gw/sentinel/core/awsdeny"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// defaultListLimit is a listing's page size when the caller gives none.
const defaultListLimit = 100

var sessionKind = record.Kind{Noun: "session", List: "sentinel server-sessions --status all"}

// served is the gateway of one session this replica has served, kept so its
// credential cache is reused. Nothing in it is needed for correctness: a
// replica that never saw the session builds one on demand.
type served struct {
	gw       *gateway.Gateway
	ownerARN string
	duration time.Duration
	// pending counts the requests served since the last heartbeat here.
	pending  atomic.Int64
	lastUsed atomic.Int64 // unix nanoseconds
}

// owned keeps the sessions the caller opened at a broker.
func owned(caller ports.Identity) func(ports.Session) bool {
	return func(s ports.Session) bool { return s.UserARN == caller.ARN }
}

// notOwner is the refusal of an operation on another user's session.
func notOwner(id string) error {
	return fmt.Errorf("session %s is not yours: only its owner (or an admin, for listing and revoking) may act on it: %w", id, ports.ErrForbidden)
}

// source returns the broker's provider for profile; a profile the broker
// does not have is the caller's mistake.
func (s *Service) source(profile string) (ports.CredentialProvider, error) {
	if strings.TrimSpace(profile) == "" {
		return nil, fmt.Errorf("a profile is required: name one of the broker's profiles: %w", ports.ErrInvalidArgument)
	}
	src, err := s.deps.Sources(profile)
	if errors.Is(err, ports.ErrNotFound) {
		return nil, fmt.Errorf("the broker has no profile %q: ask its operator which profiles it serves: %w", profile, ports.ErrInvalidArgument)
	}
	if err != nil {
		return nil, fmt.Errorf("profile %q: %w", profile, err)
	}
	return src, nil
}

// gatewayDeps are the ports every gateway of the broker uses.
func (s *Service) gatewayDeps(src ports.CredentialProvider) gateway.Deps {
	return gateway.Deps{
		Policy: s.deps.Policy, Approvals: s.approvals, BreakGlass: s.breakGlass,
		Sessions: s.deps.Stores, Remembered: s.remembered, Source: src,
		Log: s.deps.Log, Clock: s.deps.Clock, Logger: s.deps.Logger, Locks: s.locks,
	}
}

// OpenSession starts a server session for the caller. A lock refuses it,
// as exec --server refuses to start; a policy that denies right now only
// warns, since an approval or break-glass may allow later requests.
func (s *Service) OpenSession(ctx context.Context, caller ports.Identity, in ports.OpenSessionInput) (ports.OpenSessionOutput, error) {
	if err := checkCaller(caller); err != nil {
		return ports.OpenSessionOutput{}, err
	}
	if in.Duration < 0 {
		return ports.OpenSessionOutput{}, fmt.Errorf("duration %s must not be negative: %w", in.Duration, ports.ErrInvalidArgument)
	}
	if in.RevocationPoll != 0 {
		if err := session.CheckPoll(in.RevocationPoll); err != nil {
			return ports.OpenSessionOutput{}, err
		}
	}
	src, err := s.source(in.Profile)
	if err != nil {
		return ports.OpenSessionOutput{}, err
	}
	pol, err := s.policy()
	if err != nil {
		return ports.OpenSessionOutput{}, err
	}
	cfg := gateway.Config{Profile: in.Profile, Identity: caller, SessionStore: s.deps.StoreIdentity, OnStoreError: s.deps.OnStoreError}
	if err := gateway.New(cfg, s.gatewayDeps(src)).CheckLocks(ctx); err != nil {
		return ports.OpenSessionOutput{}, err
	}
	id, err := record.NewID()
	if err != nil {
		return ports.OpenSessionOutput{}, err
	}
	instance, err := record.NewID()
	if err != nil {
		return ports.OpenSessionOutput{}, err
	}
	now := s.deps.Clock.Now()
	created, err := s.deps.Stores.CreateSession(ctx, ports.Session{
		ID: id, User: caller.Name, UserARN: caller.ARN, Profile: in.Profile, ServerInstanceID: instance,
		Status: ports.SessionActive, IdentitySource: caller.Source, StartedAt: now, LastAccessAt: now,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.deps.Lease), RevocationPoll: in.RevocationPoll,
	})
	if err != nil {
		return ports.OpenSessionOutput{}, fmt.Errorf("could not record the session in the broker's store: %w", err)
	}
	out := ports.OpenSessionOutput{Session: created, Heartbeat: s.deps.Heartbeat, Lease: s.deps.Lease}
	d := pol.Evaluate(policy.Request{Identity: caller, Profile: in.Profile, Mode: policy.ModeServer, Time: now,
		SessionTracking: true, SessionStore: s.deps.StoreIdentity})
	if !d.Allowed() {
		out.Warning = gateway.Denial(d, in.Profile).Error()
	}
	return out, nil
}

// SessionCredentials serves one request of the caller's own session
// through the session's gateway: policy, overrides, locks, the session
// record read from the store, the duration caps.
func (s *Service) SessionCredentials(ctx context.Context, caller ports.Identity, in ports.SessionCredentialsInput) (ports.Credentials, error) {
	if err := checkCaller(caller); err != nil {
		return ports.Credentials{}, err
	}
	if in.Duration < 0 {
		return ports.Credentials{}, fmt.Errorf("duration %s must not be negative: %w", in.Duration, ports.ErrInvalidArgument)
	}
	e, err := s.servedFor(ctx, caller, in.SessionID, in.Duration)
	if err != nil {
		return ports.Credentials{}, err
	}
	creds, err := e.gw.Issue(ctx, in.RequestID)
	var revoked *gateway.RevokedError
	var ended *gateway.SessionEndedError
	var lost *gateway.StoreError
	switch {
	case err == nil:
		e.pending.Add(1)
		e.lastUsed.Store(s.deps.Clock.Now().UnixNano())
	case errors.As(err, &revoked), errors.As(err, &ended), errors.As(err, &lost) && lost.Lost, errors.Is(err, ports.ErrForbidden):
		s.drop(in.SessionID) // never served again; Remembered refuses it from memory
	}
	return creds, err
}

// servedFor returns the gateway for the caller's session id, building it
// when this replica has none (or one for another duration).
func (s *Service) servedFor(ctx context.Context, caller ports.Identity, id string, d time.Duration) (*served, error) {
	if d == 0 {
		d = s.deps.Duration
	}
	if err := record.ValidateID("session", id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	e := s.sessions[id]
	s.mu.Unlock()
	if e != nil {
		if e.ownerARN != caller.ARN {
			return nil, notOwner(id)
		}
		if e.duration == d {
			return e, nil
		}
	}
	rec, err := s.ownSession(ctx, caller, id)
	if err != nil {
		return nil, s.orRemembered(id, err)
	}
	src, err := s.source(rec.Profile)
	if err != nil {
		return nil, err
	}
	e = &served{ownerARN: caller.ARN, duration: d, gw: gateway.New(gateway.Config{
		Mode: policy.ModeServer, Profile: rec.Profile, Identity: caller, SessionID: id,
		SessionStore: s.deps.StoreIdentity, Duration: d, OnStoreError: s.deps.OnStoreError,
	}, s.gatewayDeps(src))}
	e.lastUsed.Store(s.deps.Clock.Now().UnixNano())
	s.keep(id, e)
	return e, nil
}

// keep stores e for id; when the map is full it first forgets the
// gateways idle longer than a lease (their sessions have lapsed unless a
// heartbeat reached another replica), then the least recently used one.
func (s *Service) keep(id string, e *served) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[id]; !ok && len(s.sessions) >= s.deps.MaxGateways {
		idle := s.deps.Clock.Now().Add(-s.deps.Lease).UnixNano()
		oldest, oldestAt := "", int64(0)
		for k, v := range s.sessions {
			at := v.lastUsed.Load()
			if at < idle {
				delete(s.sessions, k)
			} else if oldest == "" || at < oldestAt {
				oldest, oldestAt = k, at
			}
		}
		if len(s.sessions) >= s.deps.MaxGateways {
			delete(s.sessions, oldest)
		}
	}
	s.sessions[id] = e
}

// drop forgets the gateway of session id.
func (s *Service) drop(id string) {
	s.mu.Lock()
	delete(s.sessions, id)
	s.mu.Unlock()
}

// takePending returns (and zeroes) the requests served here for id since
// the last heartbeat, and a function that gives them back.
func (s *Service) takePending(id string) (int64, func()) {
	s.mu.Lock()
	e := s.sessions[id]
	s.mu.Unlock()
	if e == nil {
		return 0, func() {}
	}
	n := e.pending.Swap(0)
	return n, func() { e.pending.Add(n) }
}

// orRemembered is err, the failure to read session id, or the end this
// replica remembers for it when the record is gone or the store does not
// answer (the store's answer comes first, so only the owner learns how a
// session ended while the store is up).
func (s *Service) orRemembered(id string, err error) error {
	if errors.Is(err, ports.ErrForbidden) || errors.Is(err, ports.ErrInvalidArgument) {
		return err
	}
	var revoked *gateway.RevokedError
	var ended *gateway.SessionEndedError
	if errors.As(err, &revoked) || errors.As(err, &ended) {
		return err
	}
	if end, ok := s.remembered.Ended(id); ok {
		return end.Err(id)
	}
	return err
}

// ownSession reads session id (full id) for its owner: ErrNotFound when
// there is none, ErrForbidden when it is another user's.
func (s *Service) ownSession(ctx context.Context, caller ports.Identity, id string) (ports.Session, error) {
	if err := record.ValidateID("session", id); err != nil {
		return ports.Session{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, gateway.StoreBudget)
	defer cancel()
	rec, err := s.deps.Stores.GetSession(rctx, id)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return ports.Session{}, fmt.Errorf("no session %s: open one with sentinel exec --server: %w", id, ports.ErrNotFound)
	case err != nil:
		return ports.Session{}, err
	case rec.UserARN != caller.ARN:
		return ports.Session{}, notOwner(id)
	}
	return rec, nil
}

// update changes the caller's own session id under the retry loop with
// step, after writing the requests served here since the last update; an
// ended session is refused as the gateway refuses it.
func (s *Service) update(ctx context.Context, caller ports.Identity, id string, step func(ports.Session, time.Time) (ports.Session, error)) (ports.Session, error) {
	if err := checkCaller(caller); err != nil {
		return ports.Session{}, err
	}
	if err := record.ValidateID("session", id); err != nil {
		return ports.Session{}, err
	}
	n, giveBack := s.takePending(id)
	saved, err := session.UpdateWithRetry(ctx, s.deps.Stores, id, func(cur ports.Session) (ports.Session, error) {
		now := s.deps.Clock.Now()
		if cur.UserARN != caller.ARN {
			return cur, notOwner(id)
		}
		// An end seen here before stands even if the record reads active
		// again (rewritten behind Sentinel's back): no renewal revives it.
		s.remembered.Observe(cur, now)
		if end, ok := s.remembered.Ended(id); ok {
			return cur, end.Err(id)
		}
		next, err := step(cur, now)
		if err != nil {
			return cur, err
		}
		if n > 0 {
			next.RequestCount += n
			next.LastAccessAt = now
		}
		return next, nil
	})
	if err != nil {
		giveBack()
		if errors.Is(err, ports.ErrNotFound) {
			err = fmt.Errorf("no session %s: open one with sentinel exec --server: %w", id, ports.ErrNotFound)
		}
		return ports.Session{}, s.orRemembered(id, err)
	}
	return saved, nil
}

// Heartbeat renews the lease of the caller's own session, and records the
// requests this replica served for it since the last heartbeat here.
func (s *Service) Heartbeat(ctx context.Context, caller ports.Identity, id string) (ports.Session, error) {
	return s.update(ctx, caller, id, func(cur ports.Session, now time.Time) (ports.Session, error) {
		return session.Heartbeat(cur, now, s.deps.Lease)
	})
}

// CloseSession ends the caller's own session (expired, as a server that
// stops marks it).
func (s *Service) CloseSession(ctx context.Context, caller ports.Identity, id string) error {
	saved, err := s.update(ctx, caller, id, session.Expire)
	if err != nil {
		return err
	}
	s.remembered.Observe(saved, s.deps.Clock.Now())
	s.drop(id)
	return nil
}

// OneShot serves one set of credentials outside a server session: the cli,
// credential_process and console modes, as sentinel credentials, exec and
// login do locally.
func (s *Service) OneShot(ctx context.Context, caller ports.Identity, in ports.OneShotInput) (ports.Credentials, error) {
	if err := checkCaller(caller); err != nil {
		return ports.Credentials{}, err
	}
	mode, err := policy.ParseMode(in.Mode)
	if err != nil || mode == policy.ModeServer {
		return ports.Credentials{}, fmt.Errorf("mode %q: a one-shot request is cli, credential_process or console (server mode opens a session): %w", in.Mode, ports.ErrInvalidArgument)
	}
	if in.Duration < 0 {
		return ports.Credentials{}, fmt.Errorf("duration %s must not be negative: %w", in.Duration, ports.ErrInvalidArgument)
	}
	src, err := s.source(in.Profile)
	if err != nil {
		return ports.Credentials{}, err
	}
	return gateway.IssueOnce(ctx, gateway.Config{Mode: mode, Profile: in.Profile, Identity: caller, Duration: in.Duration,
		OnStoreError: s.deps.OnStoreError}, s.gatewayDeps(src))
}

// ListSessions lists sessions: an admin's any, anyone else's only their
// own (asking for another user's is refused, not answered empty).
func (s *Service) ListSessions(ctx context.Context, caller ports.Identity, in ports.ListSessionsInput) (ports.SessionPage, error) {
	if err := checkCaller(caller); err != nil {
		return ports.SessionPage{}, err
	}
	admin, err := s.isAdmin(caller)
	if err != nil {
		return ports.SessionPage{}, err
	}
	if in.Since < 0 {
		return ports.SessionPage{}, fmt.Errorf("since %s must not be negative: %w", in.Since, ports.ErrInvalidArgument)
	}
	f := session.Filter{Status: in.Status, User: in.User, Profile: in.Profile}
	if in.Since > 0 {
		f.Since = s.deps.Clock.Now().Add(-in.Since)
	}
	if !admin {
		if in.User != "" && in.User != caller.Name {
			return ports.SessionPage{}, fmt.Errorf("only admins list other users' sessions (the policy's admins list names them): list your own without a user: %w", ports.ErrForbidden)
		}
		f.User, f.Keep = caller.Name, owned(caller)
	}
	limit := in.Limit
	if limit == 0 {
		limit = defaultListLimit
	}
	return session.List(ctx, s.deps.Stores, f, ports.Page{Limit: limit, Cursor: in.Cursor})
}

// findSession finds a session by full id or unique prefix among those the
// caller may see: every session for an admin, else the caller's own (so a
// prefix never reveals another user's ids).
func (s *Service) findSession(ctx context.Context, caller ports.Identity, admin bool, id string) (ports.Session, error) {
	get := s.deps.Stores.GetSession
	var lists []record.Listing[ports.Session]
	if admin {
		for _, st := range []ports.SessionStatus{ports.SessionActive, ports.SessionRevoked, ports.SessionExpired} {
			lists = append(lists, func(ctx context.Context, p ports.Page) ([]ports.Session, string, error) {
				got, err := s.deps.Stores.ListSessionsByStatus(ctx, st, p)
				return got.Sessions, got.Next, err
			})
		}
	} else {
		get = func(ctx context.Context, id string) (ports.Session, error) { return s.ownSession(ctx, caller, id) }
		lists = append(lists, func(ctx context.Context, p ports.Page) ([]ports.Session, string, error) {
			got, err := session.List(ctx, s.deps.Stores, session.Filter{User: caller.Name, Keep: owned(caller)}, p)
			return got.Sessions, got.Next, err
		})
	}
	return record.Find(ctx, sessionKind, id, get, func(s ports.Session) string { return s.ID }, lists...)
}

// ShowSession returns one session (full id or unique prefix): an admin's
// any, anyone else's only their own.
func (s *Service) ShowSession(ctx context.Context, caller ports.Identity, id string) (ports.Session, error) {
	if err := checkCaller(caller); err != nil {
		return ports.Session{}, err
	}
	admin, err := s.isAdmin(caller)
	if err != nil {
		return ports.Session{}, err
	}
	return s.findSession(ctx, caller, admin, id)
}

// Revoke revokes one session (full id or unique prefix) or every active
// session of a user or a profile. Admins revoke anyone's; anyone else only
// their own (a bulk revoke of another user, or of a profile, is refused).
// Nothing waits for a server's confirmation: every replica reads the
// session on every request.
func (s *Service) Revoke(ctx context.Context, caller ports.Identity, in ports.RevokeInput) (ports.RevokeOutput, error) {
	// One policy decides both who may revoke and whether at AWS, even if a
	// reload lands in between.
	pol, err := s.callerPolicy(caller)
	if err != nil {
		return ports.RevokeOutput{}, err
	}
	targets := 0
	for _, set := range []bool{in.ID != "", in.User != "", in.Profile != ""} {
		if set {
			targets++
		}
	}
	if targets != 1 {
		return ports.RevokeOutput{}, fmt.Errorf("give exactly one of a session id, a user or a profile: %w", ports.ErrInvalidArgument)
	}
	if strings.TrimSpace(in.Reason) == "" {
		return ports.RevokeOutput{}, fmt.Errorf("a reason is required: say why, it is shown to the refused caller: %w", ports.ErrInvalidArgument)
	}
	deny, err := atAWS(pol, in)
	if err != nil {
		return ports.RevokeOutput{}, err
	}
	out, err := s.revoke(ctx, caller, pol.IsAdmin(caller), in)
	if deny {
		out.Denials = s.denyAtAWS(ctx, in, out.Revoked)
	}
	return out, err
}

// atAWS reports whether a revoke also denies at AWS: asked, or the policy's
// revoke_at_aws default.
func atAWS(pol *policy.Policy, in ports.RevokeInput) (bool, error) {
	on := in.AtAWS || pol.RevokeAtAWS
	if !on && (in.FallbackAllSessions || in.AllUserSessions) {
		return false, fmt.Errorf("fallback-all-sessions and all-user-sessions only apply with at-aws (or the policy's revoke_at_aws: true): %w", ports.ErrInvalidArgument)
	}
	return on, nil
}

// denyAtAWS puts the deny policies of each revoked session on its roles
// (core/awsdeny), with the broker's own IAM access.
func (s *Service) denyAtAWS(ctx context.Context, in ports.RevokeInput, revoked []ports.Session) []ports.AWSDenial {
	var out []ports.AWSDenial
	for _, r := range revoked {
		if s.deps.InlinePolicies == nil {
			out = append(out, ports.AWSDenial{SessionID: r.ID, Error: "this broker has no IAM access configured",
				Next: "give the broker's role the IAM permissions in docs/revocation.md, or deny at AWS by hand"})
			continue
		}
		opts := awsdeny.Options{FallbackAllSessions: in.FallbackAllSessions, AllUserSessions: in.AllUserSessions}
		out = append(out, awsdeny.Apply(ctx, s.deps.InlinePolicies, r, opts, s.deps.Clock.Now())...)
	}
	return out
}

// revoke is Revoke in the store: one session, or a user's or a profile's.
func (s *Service) revoke(ctx context.Context, caller ports.Identity, admin bool, in ports.RevokeInput) (ports.RevokeOutput, error) {
	by := caller.ARN
	if in.ID != "" {
		return s.revokeOne(ctx, caller, admin, in.ID, by, in.Reason)
	}
	b := session.BulkRevoke{User: in.User, Profile: in.Profile, By: by, Reason: in.Reason}
	switch {
	case admin:
	case in.Profile != "":
		return ports.RevokeOutput{}, fmt.Errorf("only admins revoke every session of a profile (the policy's admins list names them): %w", ports.ErrForbidden)
	case in.User != caller.Name:
		return ports.RevokeOutput{}, fmt.Errorf("only admins revoke other users' sessions (the policy's admins list names them): %w", ports.ErrForbidden)
	default:
		b.Keep = owned(caller)
	}
	res, err := b.Run(ctx, s.deps.Stores, s.deps.Clock)
	out := ports.RevokeOutput{Revoked: res.Revoked}
	for _, r := range res.Revoked {
		s.ended(r)
	}
	for _, f := range res.Failed {
		out.Failed = append(out.Failed, f.Error())
	}
	return out, err
}

// revokeOne revokes the session id names. An admin's full id is revoked
// even when its record is missing (a revoked record is written in its
// place, as server-revoke does).
func (s *Service) revokeOne(ctx context.Context, caller ports.Identity, admin bool, id, by, reason string) (ports.RevokeOutput, error) {
	if !admin || len(id) != record.IDLen {
		found, err := s.findSession(ctx, caller, admin, id)
		if err != nil {
			return ports.RevokeOutput{}, err
		}
		id = found.ID
	} else if err := record.ValidateID("session", id); err != nil {
		return ports.RevokeOutput{}, err
	}
	saved, _, err := session.RevokeByID(ctx, s.deps.Stores, id, by, reason, s.deps.Clock)
	if errors.Is(err, ports.ErrInvalidTransition) {
		// Already ended: its credentials may still work at AWS, so the
		// record goes back for an at-aws deny.
		out := ports.RevokeOutput{AlreadyEnded: true}
		if ended, gerr := s.deps.Stores.GetSession(ctx, id); gerr == nil {
			out.Revoked = []ports.Session{ended}
		}
		return out, nil
	}
	if err != nil {
		return ports.RevokeOutput{}, err
	}
	s.ended(saved)
	return ports.RevokeOutput{Revoked: []ports.Session{saved}}, nil
}

// ended remembers a session this replica ended and forgets its gateway.
func (s *Service) ended(rec ports.Session) {
	s.remembered.Observe(rec, s.deps.Clock.Now())
	s.drop(rec.ID)
}
