package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// ServerSessionCmd shows one session.
type ServerSessionCmd struct {
	ID     string `arg:"" help:"Session id, or a unique prefix of at least 8 characters." predictor:"session"`
	Output string `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows an example.
func (ServerSessionCmd) Help() string {
	return "Example:\n  sentinel server-session 0f8e3c2a9b7d --output json"
}

// Run prints the session in full.
func (c *ServerSessionCmd) Run(g *Globals, env *Env, logger *slog.Logger) error {
	if err := validateIDOrPrefix(c.ID); err != nil {
		return err
	}
	ctx := context.Background()
	store, err := openStore(ctx, g.Store, env.Clock)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	sweep(ctx, store, env.Clock, logger)
	s, err := findSession(ctx, store, c.ID)
	if err != nil {
		return err
	}
	if c.Output == "json" {
		return writeJSON(env.Stdout, s)
	}
	return writeSessionDetail(env, s)
}

func writeSessionDetail(env *Env, s ports.Session) error {
	now := env.Clock.Now()
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return rfc3339(t) + " (" + ago(now, t) + ")"
	}
	rows := [][2]string{
		{"id", s.ID}, {"status", string(s.Status)}, {"user", s.User}, {"identity source", s.IdentitySource},
		{"profile", s.Profile}, {"server instance", s.ServerInstanceID},
		{"started", at(s.StartedAt)}, {"last access", at(s.LastAccessAt)}, {"lease expires", at(s.ExpiresAt)},
		{"requests", fmt.Sprint(s.RequestCount)}, {"source identity", s.SourceIdentity},
	}
	if s.Status == ports.SessionRevoked {
		rows = append(rows, [2]string{"revoked by", s.RevokedBy}, [2]string{"revoked at", at(s.RevokedAt)}, [2]string{"revoked reason", s.RevokedReason})
	}
	rows = append(rows, [2]string{"created", at(s.CreatedAt)}, [2]string{"updated", at(s.UpdatedAt)}, [2]string{"version", fmt.Sprint(s.Version)})
	for _, r := range rows {
		if _, err := fmt.Fprintf(env.Stdout, "%-16s %s\n", r[0]+":", r[1]); err != nil {
			return err
		}
	}
	return nil
}

// ServerRevokeCmd revokes one session, or every active session of a user or profile.
type ServerRevokeCmd struct {
	ID      string `arg:"" optional:"" help:"Session id, or a unique prefix of at least 8 characters." predictor:"session"`
	Reason  string `help:"Why; recorded with the revoke and shown to the refused caller." required:""`
	User    string `help:"Revoke every active session of this user." placeholder:"USER"`
	Profile string `help:"Revoke every active session for this profile." placeholder:"PROFILE"`
	// The wait is bounded so a dead or unreachable server cannot hang an incident responder.
	AckTimeout time.Duration `help:"How long to wait for the running server to confirm it has the revoke." default:"2s"`
}

// Help shows examples.
func (ServerRevokeCmd) Help() string {
	return `The running server refuses the session's very next credential request.

Examples:
  sentinel server-revoke 0f8e3c2a9b7d --reason "laptop stolen"
  sentinel server-revoke --user alice --reason "incident 4711"
  sentinel server-revoke --profile prod --reason "rotate everything"`
}

// Run revokes and prints what it revoked.
func (c *ServerRevokeCmd) Run(g *Globals, env *Env) error {
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
	ctx := context.Background()
	who, err := callerIdentity(ctx, g)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, g.Store, env.Clock)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	revoke := func(id string) (ports.Session, error) {
		s, err := session.UpdateWithRetry(ctx, store, id, func(s ports.Session) (ports.Session, error) {
			return session.Revoke(s, who.Name, c.Reason, env.Clock.Now())
		})
		if err == nil {
			announce(ctx, env, store, s, c.AckTimeout)
		}
		return s, err
	}
	if c.ID != "" {
		found, err := findSession(ctx, store, c.ID)
		if err != nil {
			return err
		}
		s, err := revoke(found.ID)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.Stdout, "revoked session %s (user %s, profile %s) by %s: %s\n", s.ID, s.User, s.Profile, s.RevokedBy, s.RevokedReason)
		return err
	}
	return c.revokeAll(ctx, env, store, revoke)
}

// revokeAll revokes every active session of --user or --profile.
func (c *ServerRevokeCmd) revokeAll(ctx context.Context, env *Env, store ports.SessionStore, revoke func(string) (ports.Session, error)) error {
	f, what := sessionFilter{Status: string(ports.SessionActive), User: c.User}, "user "+c.User
	if c.Profile != "" {
		f, what = sessionFilter{Status: string(ports.SessionActive), Profile: c.Profile}, "profile "+c.Profile
	}
	active, err := listSessions(ctx, store, f, maxBulkRevoke)
	if err != nil {
		return err
	}
	revoked := 0
	var failures []error
	for _, s := range active {
		if _, err := revoke(s.ID); err != nil {
			// Ended in between (another revoke, or the server stopped): not a failure.
			if errors.Is(err, ports.ErrInvalidTransition) {
				continue
			}
			failures = append(failures, fmt.Errorf("session %s: %w", s.ID, err))
			continue
		}
		revoked++
		fmt.Fprintf(env.Stdout, "revoked session %s (user %s, profile %s)\n", s.ID, s.User, s.Profile)
	}
	fmt.Fprintf(env.Stdout, "revoked %d active session(s) of %s\n", revoked, what)
	if len(failures) > 0 {
		return fmt.Errorf("%d session(s) could not be revoked; run the command again: %w", len(failures), errors.Join(failures...))
	}
	if len(active) == maxBulkRevoke {
		return fmt.Errorf("stopped after %d sessions; run the command again to revoke the rest", maxBulkRevoke)
	}
	return nil
}

// maxBulkRevoke bounds one bulk revoke; a second run takes the rest.
const maxBulkRevoke = ports.MaxPageLimit

// callerIdentity resolves who runs a command: STS with the standard chain
// (or --aws-profile), or the OS user with --identity-source os.
func callerIdentity(ctx context.Context, g *Globals) (ports.Identity, error) {
	return resolveIdentity(ctx, g, func() (ports.IdentityResolver, error) {
		return awscreds.NewSTSIdentityResolver(ctx, g.AWSProfile, awscreds.Options{})
	})
}

// pollSlack covers a poll that was already under way when the revoke landed.
const pollSlack = 20 * time.Millisecond

// announce waits, bounded, until the live server holding s confirms it has
// read the revoke, so nothing is served once this command returns; it says
// plainly when that could not be confirmed.
func announce(ctx context.Context, env *Env, store ports.SessionStore, s ports.Session, timeout time.Duration) {
	a, ok := store.(ports.ChangeAnnouncer)
	if !ok {
		// No feed to confirm over: wait out the server's polling bound (at the
		// default --revocation-poll), so nothing is served once we return.
		wait := min(2*session.DefaultPoll+pollSlack, timeout)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		fmt.Fprintf(env.Stderr, "sentinel: session %s: this store has no change feed; waited %s, the bound within which a server at the default --revocation-poll (%s) sees the revoke\n", s.ID, wait, session.DefaultPoll)
		return
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch err := a.Announce(actx, s); {
	case err == nil:
		fmt.Fprintf(env.Stderr, "sentinel: session %s: the running server confirmed it refuses from now on\n", s.ID)
	case errors.Is(err, ports.ErrNoListener):
		fmt.Fprintf(env.Stderr, "sentinel: session %s: no running server follows it (it has exited, or its feed is down and it reads the store on every request)\n", s.ID)
	default:
		fmt.Fprintf(env.Stderr, "sentinel: warning: session %s: the server did not confirm within %s (%v); it refuses as soon as it next reads the store (within a quarter second)\n", s.ID, timeout, err)
	}
}
