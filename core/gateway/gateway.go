// Package gateway runs the per-request pipeline of the credential server:
// policy, overrides (overrides.go), revocation, duration cap (duration.go),
// credentials under the session's STS names (names.go), touch, decision
// log. It is pure in the hexagonal sense: all I/O goes through ports.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// PolicySource returns the policy in force now. An error fails closed.
type PolicySource interface {
	Current() (*policy.Policy, error)
}

// Config is what one running server is for.
type Config struct {
	// Mode is the request mode policy sees; the zero value means server.
	Mode     policy.Mode
	Profile  string
	Identity ports.Identity
	// SessionID is the tracked session; empty when tracking is off.
	SessionID string
	// SessionStore is the identity of the store the session is tracked in
	// (policy's session_store compares it); empty when tracking is off.
	SessionStore string
	// Duration is the configured server duration before policy caps it.
	Duration     time.Duration
	OnStoreError session.StoreErrorPolicy
}

// Deps are the ports the pipeline talks through. Approvals and BreakGlass
// may be nil. When Config.SessionID is set, Sessions (or View) is needed:
// with a Tracker (a running exec --server) the tracker remembers an end and
// writes a missing record back; without one (a broker, which serves
// sessions it does not run) every request reads the record from Sessions,
// refuses a missing one, and Remembered keeps the ends seen.
type Deps struct {
	Policy     PolicySource
	Approvals  ports.ApprovalLookup
	BreakGlass ports.BreakGlassLookup
	Sessions   ports.SessionStore
	// View, when set, answers the revocation check from memory where that is
	// safe (see session.View); otherwise every request reads Sessions.
	View    *session.View
	Tracker *session.Tracker
	// Remembered, for a gateway without a Tracker, is the process's memory
	// of ended sessions, shared by all its gateways (nil: none kept).
	Remembered *Remembered
	Source     ports.CredentialProvider
	Log        ports.DecisionLog
	Clock      ports.Clock
	Logger     *slog.Logger

	// Locks, when set, is checked first on every request (see locks.go).
	Locks ports.LockLookup
}

// Gateway serves credentials for one profile and caller.
type Gateway struct {
	cfg  Config
	deps Deps

	cacheMu sync.RWMutex
	cached  ports.Credentials
	// refreshMu serialises source calls so a burst makes one STS call.
	refreshMu sync.Mutex

	// handle is the id every AssumeRole of this gateway names in its
	// SourceIdentity and RoleSessionName: the session id, or one made once
	// for an untracked run.
	handleOnce sync.Once
	handle     string
	handleErr  error
}

// StoreBudget bounds each piece of store work of one request (the override
// lookups, the revocation read): a store that is down makes the request fail
// (or serve, fail-open) within it, never hang. session.View bounds its reads
// the same way.
const StoreBudget = 1500 * time.Millisecond

// cacheFloor: a cached credential is reused while it has at least this long
// left (or the served duration, when shorter).
const cacheFloor = 5 * time.Minute

// clockSkew is how far past the request's STS duration a cached credential's
// expiry may lie and still be reused: STS's clock is not ours, and its
// Expiration is whole seconds.
const clockSkew = time.Minute

// New builds a gateway.
func New(cfg Config, deps Deps) *Gateway {
	if deps.Clock == nil {
		deps.Clock = ports.SystemClock{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Duration <= 0 {
		cfg.Duration = DefaultServerDuration
	}
	if cfg.Mode == "" {
		cfg.Mode = policy.ModeServer
	}
	return &Gateway{cfg: cfg, deps: deps}
}

// Issue runs the pipeline for one request and returns credentials whose
// Expires is already capped.
func (g *Gateway) Issue(ctx context.Context, requestID string) (ports.Credentials, error) {
	now := g.deps.Clock.Now()
	rec := ports.DecisionRecord{
		Time:           now,
		RequestID:      requestID,
		User:           g.cfg.Identity.Name,
		UserARN:        g.cfg.Identity.ARN,
		IdentitySource: g.cfg.Identity.Source,
		Profile:        g.cfg.Profile,
		Mode:           string(g.cfg.Mode),
		SessionID:      g.cfg.SessionID,
		RuleIndex:      -1,
	}
	creds, err := g.issue(ctx, now, &rec)
	if err != nil {
		rec.Effect = string(policy.EffectDeny)
		rec.Error = err.Error()
	}
	rec.Outcome = OutcomeOf(err)
	if g.deps.Log != nil {
		if lerr := g.deps.Log.Record(ctx, rec); lerr != nil {
			g.deps.Logger.Warn("decision log write failed", "error", lerr)
		}
	}
	return creds, err
}

func (g *Gateway) issue(ctx context.Context, now time.Time, rec *ports.DecisionRecord) (ports.Credentials, error) {
	// 0. Locks: nothing lifts one, so they come before policy and overrides.
	// A check that could not read the store is answered after the
	// revocation check, so a revoke the server remembers still says so.
	lockErr := g.checkLocks(ctx, now)
	if is[*LockedError](lockErr) {
		rec.Reason = "locked"
		return ports.Credentials{}, lockErr
	}
	// 1. Policy. A policy that cannot be loaded fails closed.
	pol, err := g.deps.Policy.Current()
	if err != nil {
		rec.Reason = "policy could not be loaded"
		return ports.Credentials{}, &DeniedError{Profile: g.cfg.Profile, Reason: "the policy could not be loaded: " + err.Error(), policyUnavailable: true}
	}
	rec.PolicyVersion = pol.Hash
	d := pol.Evaluate(g.policyRequest(now))
	rec.RuleEffect, rec.Rule, rec.RuleIndex, rec.Reason = string(d.RuleEffect), d.Rule, d.RuleIndex, d.Reason

	// 2. Overrides: looked up only when one could lift the denial.
	gt := gateOf(d)
	result := applyOverrides(gt, g.overrides(ctx, gt, now), now)
	if !result.allowed {
		return ports.Credentials{}, Denial(d, g.cfg.Profile)
	}
	rec.Override = result.applied.label()

	// 3. Revocation.
	if err := g.checkRevocation(ctx, now); err != nil {
		return ports.Credentials{}, err
	}
	if lockErr != nil {
		return ports.Credentials{}, lockErr
	}

	// 4. Duration cap: the configured duration, the rule's cap, and the
	// approval or break-glass window that allowed the request.
	windowLeft := result.applied.expiresAt.Sub(now)
	capped := CapDuration(g.cfg.Duration, d.MaxServerDuration, windowLeft, result.windowApplies())
	if capped <= 0 {
		return ports.Credentials{}, &DeniedError{Profile: g.cfg.Profile, Rule: d.Rule, Reason: "no time left to serve (the " + result.applied.kind + " window has ended)"}
	}
	rec.ServedDuration = capped.String()

	// 5. Credentials, from the cache when their lifetime fits the cap.
	creds, err := g.credentials(ctx, now, capped)
	if err != nil {
		return ports.Credentials{}, err
	}
	if err := g.checkPassThrough(d, creds, now); err != nil {
		return ports.Credentials{}, err
	}
	// A revoke acknowledged while the source (STS) was answering must not
	// let these out: check again, from memory, before sending.
	if err := g.remembered(); err != nil {
		return ports.Credentials{}, err
	}
	rec.SourceIdentity = creds.Origin.SourceIdentity // only what STS received
	served := creds
	served.Origin = ports.CredentialOrigin{}
	if limit := now.Add(capped); served.Expires.IsZero() || served.Expires.After(limit) {
		served.Expires = limit
	}
	rec.CredentialsExpire = served.Expires
	rec.Effect = string(policy.EffectAllow)

	// 6. Record the request; coalesced off the hot path by the tracker.
	if g.deps.Tracker != nil {
		g.deps.Tracker.Touch(1)
	}
	return served, nil
}

// remembered refuses a session the tracker (or, without one, the
// process's Remembered) has seen end, from memory alone: no store read.
func (g *Gateway) remembered() error {
	if g.cfg.SessionID == "" {
		return nil
	}
	t := g.deps.Tracker
	if t == nil {
		if end, ok := g.deps.Remembered.Ended(g.cfg.SessionID); ok {
			return end.Err(g.cfg.SessionID)
		}
		return nil
	}
	if by, reason, at, ok := t.Revoked(); ok {
		return &RevokedError{SessionID: g.cfg.SessionID, By: by, Reason: reason, At: at}
	}
	if t.Expired() {
		return &SessionEndedError{SessionID: g.cfg.SessionID}
	}
	return nil
}

// checkRevocation reads the session on every request. An end, once seen, is
// remembered (by the tracker, or by Remembered) and refused for good, even if
// the store later loses the record or goes away. With a tracker a missing
// record is a store fault: the tracker writes it back, and --on-store-error
// decides meanwhile. Without one nothing would write it back, so a missing
// record is refused. A gateway with no session (cli, credential_process,
// console, an untracked server) has nothing to check.
func (g *Gateway) checkRevocation(ctx context.Context, now time.Time) error {
	if g.cfg.SessionID == "" {
		return nil
	}
	if err := g.remembered(); err != nil {
		return err
	}
	if g.deps.View == nil && g.deps.Sessions == nil {
		// A wiring fault, never a reason to serve unchecked.
		return &StoreError{Err: fmt.Errorf("session %s: no session store to check it in: %w", g.cfg.SessionID, ports.ErrUnavailable)}
	}
	s, err := g.readSession(ctx)
	if t := g.deps.Tracker; t != nil {
		switch {
		case err == nil && s.Status != ports.SessionActive:
			t.Observe(s) // remember an end for good; an active read tells nothing new
		case errors.Is(err, ports.ErrNotFound):
			t.Missing() // the tracker writes it back now, and logs that once
		}
	} else {
		switch {
		case err == nil:
			g.deps.Remembered.Observe(s, now)
			if s.UserARN != "" && s.UserARN != g.cfg.Identity.ARN {
				return fmt.Errorf("session %s belongs to %s, not to %s: %w", g.cfg.SessionID, s.UserARN, g.cfg.Identity.ARN, ports.ErrForbidden)
			}
		case errors.Is(err, ports.ErrNotFound):
			return &StoreError{Err: err, Lost: true}
		}
	}
	return g.refusal(session.CheckRevocation(s, err, g.cfg.OnStoreError, now), err)
}

// readSession reads the session for the revocation check: through the View
// when there is one (memory, or a store read it bounds), else from
// Sessions within StoreBudget.
func (g *Gateway) readSession(ctx context.Context) (ports.Session, error) {
	if g.deps.View != nil {
		return g.deps.View.Current(ctx)
	}
	rctx, cancel := context.WithTimeout(ctx, StoreBudget)
	defer cancel()
	return g.deps.Sessions.GetSession(rctx, g.cfg.SessionID)
}

// refusal turns the revocation verdict into the request's error (nil when
// it may proceed); err is the read's error.
func (g *Gateway) refusal(v session.Verdict, err error) error {
	switch v.Outcome {
	case session.OutcomeAllowed:
		return nil
	case session.OutcomeRevoked:
		return &RevokedError{SessionID: g.cfg.SessionID, By: v.RevokedBy, Reason: v.RevokedReason, At: v.RevokedAt}
	case session.OutcomeExpired:
		return &SessionEndedError{SessionID: g.cfg.SessionID}
	case session.OutcomeNotFound:
		if v.Allowed {
			return nil // --on-store-error=allow; the write-back is logged, not each request
		}
		return &StoreError{Err: err, Missing: true}
	case session.OutcomeStoreErrorAllowed:
		g.deps.Logger.Warn("revocation check failed; serving (--on-store-error=allow)", "error", err)
		return nil
	case session.OutcomeStoreErrorDenied:
		return &StoreError{Err: err}
	case session.OutcomeCorrupt:
		return &StoreError{Err: err, Corrupt: true}
	default:
		return &StoreError{Err: fmt.Errorf("session %s: %s", g.cfg.SessionID, v.Detail)}
	}
}

// usable reports whether c may serve a request capped at d: it lasts long
// enough (reuseFloor) and, unless it was passed through
// from the source (whose lifetime no fetch changes), not longer than the
// request may have: what STS would be asked for now (d, or STS's floor), plus
// clockSkew. A credential fetched under a looser cap is not reused under a
// tighter one.
func usable(c ports.Credentials, now time.Time, d time.Duration) bool {
	if c.AccessKeyID == "" {
		return false
	}
	if c.Expires.IsZero() {
		return c.Origin.PassThrough
	}
	left := c.Expires.Sub(now)
	if left < reuseFloor(d) {
		return false
	}
	return c.Origin.PassThrough || left <= STSDuration(d)+clockSkew
}

// reuseFloor is how long a cached credential must still last to serve a
// request capped at d: cacheFloor, or d when shorter; and when d reaches
// more than a minute beyond SDKRefreshWindow, that window plus a minute. A
// credential served with less left than the window would make botocore fetch
// again on every API call until the cache let it go.
func reuseFloor(d time.Duration) time.Duration {
	if f := SDKRefreshWindow + time.Minute; d > f {
		return f
	}
	return min(d, cacheFloor)
}

// sessionHandle is the id this gateway's AssumeRoles carry.
func (g *Gateway) sessionHandle() (string, error) {
	g.handleOnce.Do(func() {
		g.handle = g.cfg.SessionID
		if g.handle == "" {
			g.handle, g.handleErr = record.NewID()
		}
	})
	return g.handle, g.handleErr
}

func (g *Gateway) credentials(ctx context.Context, now time.Time, d time.Duration) (ports.Credentials, error) {
	if c, ok := g.fromCache(now, d); ok {
		return c, nil
	}
	g.refreshMu.Lock()
	defer g.refreshMu.Unlock()
	if c, ok := g.fromCache(now, d); ok {
		return c, nil
	}
	handle, err := g.sessionHandle()
	if err != nil {
		return ports.Credentials{}, &SourceError{Profile: g.cfg.Profile, Err: err}
	}
	fresh, err := g.deps.Source.Credentials(ctx, ports.CredentialRequest{
		Profile:         g.cfg.Profile,
		Duration:        d,
		SourceIdentity:  SourceIdentity(g.cfg.Identity.Name, handle),
		RoleSessionName: RoleSessionName(g.cfg.Identity.Name, handle),
	})
	if err != nil {
		// Never cached: the next request tries the source again.
		return ports.Credentials{}, &SourceError{Profile: g.cfg.Profile, Err: err}
	}
	if fresh.AccessKeyID == "" || fresh.SecretAccessKey == "" {
		return ports.Credentials{}, &SourceError{Profile: g.cfg.Profile, Err: fmt.Errorf("the source returned empty credentials")}
	}
	g.cacheMu.Lock()
	g.cached = fresh
	g.cacheMu.Unlock()
	g.recordAssumedRole(ctx, fresh.Origin)
	return fresh, nil
}

// recordAssumedRole keeps on the session record what AWS knows this fill by
// (SourceIdentity, role ARN, AssumedRoleId), so a deny at AWS can target the
// session. A failure is logged: the request is still judged by policy and
// revocation, and the next fill tries again.
func (g *Gateway) recordAssumedRole(ctx context.Context, o ports.CredentialOrigin) {
	if g.cfg.SessionID == "" || g.deps.Sessions == nil || o.RoleARN == "" {
		return
	}
	if g.deps.Tracker != nil {
		if _, changed := session.WithAssumedRole(g.deps.Tracker.Session(), o); !changed {
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, StoreBudget)
	defer cancel()
	saved, err := session.RecordAssumedRole(ctx, g.deps.Sessions, g.cfg.SessionID, o)
	if err != nil {
		g.deps.Logger.Warn("could not record the assumed role on the session", "session", g.cfg.SessionID, "role_arn", o.RoleARN, "error", err)
		return
	}
	if g.deps.Tracker != nil {
		g.deps.Tracker.Observe(saved)
	}
}

func (g *Gateway) fromCache(now time.Time, d time.Duration) (ports.Credentials, bool) {
	g.cacheMu.RLock()
	c := g.cached
	g.cacheMu.RUnlock()
	return c, usable(c, now, d)
}

// checkPassThrough refuses, in server mode, credentials the source passed
// through unchanged whose real lifetime exceeds the matched rule's
// max_server_duration, unless the rule opts in with
// allow_long_lived_passthrough. Sentinel cannot shorten them, so serving them
// would hand out more than the rule allows.
func (g *Gateway) checkPassThrough(d policy.Decision, c ports.Credentials, now time.Time) error {
	if g.cfg.Mode != policy.ModeServer || !c.Origin.PassThrough || d.AllowLongLivedPassThrough || d.MaxServerDuration <= 0 {
		return nil
	}
	limit := d.MaxServerDuration
	lifetime := "they never expire"
	if !c.Expires.IsZero() {
		if c.Expires.Sub(now) <= limit {
			return nil
		}
		lifetime = "they last until " + c.Expires.UTC().Format(time.RFC3339)
	}
	return &DeniedError{Profile: g.cfg.Profile, Rule: d.Rule, Reason: fmt.Sprintf(
		"the profile's credentials are passed through unchanged (--no-session, SSO or credential_process) and %s, beyond the rule's max_server_duration of %s; "+
			"use a profile STS issues credentials for (drop --no-session, or a role_arn profile), or set allow_long_lived_passthrough: true on the rule",
		lifetime, limit)}
}

// Prefetch fills the credential cache at startup, so a bad profile fails
// before the child runs. It asks the source for what a request would get
// now under policy (never more than the matched rule allows) and refuses
// pass-through credentials the policy would refuse. It records no request.
func (g *Gateway) Prefetch(ctx context.Context) error {
	now := g.deps.Clock.Now()
	pol, err := g.deps.Policy.Current()
	if err != nil {
		return &DeniedError{Profile: g.cfg.Profile, Reason: "the policy could not be loaded: " + err.Error(), policyUnavailable: true}
	}
	d := pol.Evaluate(g.policyRequest(now))
	if !d.Allowed() {
		return Denial(d, g.cfg.Profile)
	}
	capped := CapDuration(g.cfg.Duration, d.MaxServerDuration, 0, false)
	creds, err := g.credentials(ctx, now, capped)
	if err != nil {
		return err
	}
	return g.checkPassThrough(d, creds, now)
}

// policyRequest is what policy sees of a request at now.
func (g *Gateway) policyRequest(now time.Time) policy.Request {
	return policy.Request{
		Identity:        g.cfg.Identity,
		Profile:         g.cfg.Profile,
		Mode:            g.cfg.Mode,
		Time:            now,
		SessionTracking: g.cfg.SessionID != "",
		SessionStore:    g.cfg.SessionStore,
	}
}

// Denial turns a deny decision for profile into the error a caller sees.
func Denial(d policy.Decision, profile string) *DeniedError {
	return &DeniedError{
		Profile:                 profile,
		Rule:                    d.Rule,
		Reason:                  d.Reason,
		RequiresServerMode:      d.RequiresServerMode,
		RequiresSessionTracking: d.RequiresSessionTracking,
		RequiresApproval:        d.RequiresApproval,
		RequiresSessionStore:    d.RequiresSessionStore,
	}
}
