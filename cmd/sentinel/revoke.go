package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// ServerRevokeCmd revokes one session, or every active session of a user or profile.
type ServerRevokeCmd struct {
	ID      string `arg:"" optional:"" help:"Session id, or a unique prefix of at least 8 characters." predictor:"session"`
	Reason  string `help:"Why; recorded with the revoke and shown to the refused caller." required:""`
	User    string `help:"Revoke every active session of this user." placeholder:"USER"`
	Profile string `help:"Revoke every active session for this profile." placeholder:"PROFILE"`
	// The wait is bounded so a dead or unreachable server cannot hang an incident responder.
	AckTimeout time.Duration `help:"How long to wait for the running server to confirm it has the revoke. Unconfirmed, the command still waits out the bound within which a live server re-reads the store (0.5s, or two of the server's --revocation-poll)." default:"2s"`

	AtAWS               bool   `name:"at-aws" help:"Also deny the credentials already served, at AWS: an inline deny policy on every role the session assumed (see above). The policy's revoke_at_aws: true makes it the default."`
	FallbackAllSessions bool   `help:"With --at-aws: when a role's inline policies are full, deny EVERY session of that role issued before now instead."`
	AllUserSessions     bool   `help:"With --at-aws: for a session that assumed no role (GetSessionToken), deny EVERY temporary credential of its IAM user issued before now."`
	Policy              string `help:"Policy file whose revoke_at_aws default applies; a missing file sets no default." env:"SENTINEL_POLICY" default:"${default_policy}" type:"path"`

	// revoked holds what this run revoked, restored whether its one
	// session had no record: what --at-aws denies.
	revoked  []ports.Session
	restored bool
}

// Help shows examples.
func (ServerRevokeCmd) Help() string {
	return `The running server refuses the session's very next credential request.

--at-aws also stops the credentials the session's child already holds, which
otherwise keep working at AWS until their Expiration (15 minutes to hours):
after the revoke it puts an inline policy SentinelRevoke-<session id>-<unix
time> on every role the session assumed, denying everything to exactly that
session's credentials (aws:SourceIdentity and aws:userid), so other sessions
of the role go on working. IAM applies it within seconds (AWS says at most a
few minutes). It is kept until no credential of the session can be valid
(12 hours, STS's longest), then "sentinel revocations sweep" deletes it. The
command prints each role as denied or failed and exits non-zero if any
failed. A role whose inline policies are full gets, only with
--fallback-all-sessions, a deny of every session of the role issued before
now. A session that assumed no role (GetSessionToken) carries no
per-session handle: only --all-user-sessions denies it, by denying every
temporary credential of its IAM user issued before now. The revoker's AWS
identity (--aws-profile) needs iam:PutRolePolicy on the roles (see
docs/revocation.md).

Examples:
  sentinel server-revoke 0f8e3c2a9b7d --reason "laptop stolen"
  sentinel server-revoke --user alice --reason "incident 4711"
  sentinel server-revoke --profile prod --reason "rotate everything"
  sentinel server-revoke 0f8e3c2a9b7d --reason "key leaked" --at-aws`
}

// Run revokes and prints what it revoked.
func (c *ServerRevokeCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	targets := 0
	for _, set := range []bool{c.ID != "", c.User != "", c.Profile != ""} {
		if set {
			targets++
		}
	}
	if targets != 1 {
		return usageError{"give exactly one of a session ID, --user or --profile"}
	}
	if strings.TrimSpace(c.Reason) == "" {
		return usageError{"--reason must say why"}
	}
	if c.ID != "" {
		if err := validateIDOrPrefix(c.ID); err != nil {
			return err
		}
	}
	if g.team() {
		return c.teamRevoke(g, env)
	}
	aws, err := c.atAWS()
	if err != nil {
		return err
	}
	c.AtAWS = aws.on
	ctx := context.Background()
	who, err := callerIdentity(ctx, g)
	if err != nil {
		return err
	}
	// A full id is revoked even where its record (or a lost bbolt file) is
	// missing: the revoked record written in its place is what the server
	// holding the session reads back. Everything else needs a store that exists.
	open := stores.open
	if len(c.ID) == fullIDLen {
		open = stores.create
	}
	store, err := open(ctx)
	if err != nil {
		return err
	}
	if c.ID != "" {
		err = c.revokeOne(ctx, env, store, who.Name)
	} else {
		err = c.revokeAll(ctx, env, store, who.Name)
	}
	if len(c.revoked) == 0 {
		return errors.Join(err, aws.unread())
	}
	return errors.Join(err, aws.apply(ctx, g, env, c.revoked, c.restored))
}

// revokeOne revokes the session c.ID names. A full id is revoked even when
// its record is missing: a revoked record is written in its place, which the
// server holding the session reads and refuses on.
func (c *ServerRevokeCmd) revokeOne(ctx context.Context, env *Env, store ports.SessionStore, who string) error {
	id := c.ID
	if len(id) < fullIDLen {
		found, err := findSession(ctx, store, id)
		if err != nil {
			return err
		}
		id = found.ID
	}
	s, restored, err := session.RevokeByID(ctx, store, id, who, c.Reason, env.Clock)
	if err != nil {
		return c.alreadyEnded(ctx, env, store, id, err)
	}
	announce(ctx, env, store, s, c.AckTimeout)
	c.revoked, c.restored = []ports.Session{s}, restored
	return printRevokedOne(env, s, restored)
}

// printRevokedOne says what a revoke by id did (solo and team mode).
func printRevokedOne(env *Env, s ports.Session, restored bool) error {
	if restored {
		_, err := fmt.Fprintf(env.Stdout, "revoked session %s by %s: %s (no record was in the store; wrote a revoked one, which its server refuses on)\n", s.ID, s.RevokedBy, s.RevokedReason)
		return err
	}
	_, err := fmt.Fprintf(env.Stdout, "revoked session %s (user %s, profile %s) by %s: %s\n", s.ID, s.User, s.Profile, s.RevokedBy, s.RevokedReason)
	return err
}

// revokeAll revokes every active session of --user or --profile
// (session.BulkRevoke) and prints what it did. The confirmation waits run
// concurrently, so the command waits about one --ack-timeout at most, not
// one per session.
func (c *ServerRevokeCmd) revokeAll(ctx context.Context, env *Env, store ports.SessionStore, who string) error {
	// announce writes to Stderr from many goroutines at once.
	shared := *env
	shared.Stderr = &syncWriter{w: env.Stderr}
	bulk := session.BulkRevoke{
		User: c.User, Profile: c.Profile, By: who, Reason: c.Reason,
		Confirm: func(ctx context.Context, s ports.Session) { announce(ctx, &shared, store, s, c.AckTimeout) },
	}
	res, err := bulk.Run(ctx, store, env.Clock)
	c.revoked = res.Revoked
	if err != nil {
		err = fmt.Errorf("%w; run the command again to revoke the rest", err)
	}
	return c.printBulk(env, res.Revoked, res.Failed, err)
}

// printBulk says what a revoke of --user or --profile did (solo and team
// mode) and returns the error the command ends with: err (the listing
// stopped), the sessions that failed, or, when nothing was revoked, that
// nothing was: a mistyped name, or a store that lost its records, must not
// read as "done".
func (c *ServerRevokeCmd) printBulk(env *Env, revoked []ports.Session, failed []error, err error) error {
	what := session.BulkRevoke{User: c.User, Profile: c.Profile}.What()
	for _, s := range revoked {
		fmt.Fprintf(env.Stdout, "revoked session %s (user %s, profile %s)\n", s.ID, s.User, s.Profile)
	}
	if len(revoked) > 0 {
		fmt.Fprintf(env.Stdout, "revoked %d active session(s) of %s\n", len(revoked), what)
	}
	var failures error
	if len(failed) > 0 {
		failures = fmt.Errorf("%d session(s) could not be revoked; run the command again: %w", len(failed), errors.Join(failed...))
	}
	switch {
	case err != nil:
		return errors.Join(err, failures)
	case failures != nil:
		return failures
	case len(revoked) == 0:
		flag := "--profile " + c.Profile
		if c.User != "" {
			flag = "--user " + c.User
		}
		return fmt.Errorf("no active session of %s: nothing revoked; check the name, and list its sessions with: sentinel server-sessions --status all %s",
			what, flag)
	}
	return nil
}

// syncWriter serialises writes from concurrent goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// callerIdentity resolves who runs a command: STS with the standard chain
// (or --aws-profile), or the OS user with --identity-source os.
func callerIdentity(ctx context.Context, g *Globals) (ports.Identity, error) {
	return resolveIdentity(ctx, g, func() (ports.IdentityResolver, error) {
		return awscreds.NewSTSIdentityResolver(ctx, g.AWSProfile, awscreds.Options{})
	})
}

// pollShown is a session's --revocation-poll as server-session shows it.
func pollShown(poll time.Duration) string {
	if poll <= 0 {
		return "- (not recorded: the default " + session.DefaultPoll.String() + ")"
	}
	return poll.String()
}

// announce waits, bounded, until the live server holding s confirms it has
// read the revoke, so nothing is served once this command returns; it says
// plainly what happened. Without a confirmation (no server heard the feed,
// or none answered within --ack-timeout) it still returns no sooner than the
// bound within which any live server re-reads its session from the store
// (session.RereadBound, from the poll the server recorded), and says so.
func announce(ctx context.Context, env *Env, store ports.SessionStore, s ports.Session, timeout time.Duration) {
	start := time.Now()
	bound := session.RereadBound(s)
	waitBound := func() {
		select {
		case <-time.After(time.Until(start.Add(bound))):
		case <-ctx.Done():
		}
	}
	a, ok := store.(ports.ChangeAnnouncer)
	if !ok {
		waitBound()
		fmt.Fprintf(env.Stderr, "sentinel: session %s: this store cannot confirm; waited %s, the bound within which any live server re-reads the revoke from the store\n", s.ID, bound)
		return
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch err := a.Announce(actx, s); {
	case err == nil:
		fmt.Fprintf(env.Stderr, "sentinel: session %s: the running server confirmed it refuses from now on\n", s.ID)
	case errors.Is(err, ports.ErrNoListener):
		// Nobody heard the feed: the server may have exited, or it may be
		// alive where the feed cannot reach it (another network namespace,
		// a subscription Redis dropped). Not hearing is no proof that
		// nothing serves.
		waitBound()
		fmt.Fprintf(env.Stderr, "sentinel: session %s: no running server heard the change feed; waited %s, the bound within which any live server re-reads the revoke from the store\n", s.ID, bound)
	default:
		waitBound()
		fmt.Fprintf(env.Stderr, "sentinel: warning: session %s: the server did not confirm within %s (%v); waited at least %s, the bound within which any live server re-reads the revoke from the store\n", s.ID, timeout, err, bound)
	}
}
