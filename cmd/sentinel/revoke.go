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
	ID     string `arg:"" help:"Session id, or a unique prefix of at least 8 characters."`
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
	ID      string `arg:"" optional:"" help:"Session id, or a unique prefix of at least 8 characters."`
	Reason  string `help:"Why; recorded with the revoke and shown to the refused caller." required:""`
	User    string `help:"Revoke every active session of this user." placeholder:"USER"`
	Profile string `help:"Revoke every active session for this profile." placeholder:"PROFILE"`
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
		return session.UpdateWithRetry(ctx, store, id, func(s ports.Session) (ports.Session, error) {
			return session.Revoke(s, who.Name, c.Reason, env.Clock.Now())
		})
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

// minIDPrefix is the shortest id prefix commands accept.
const minIDPrefix = 8

// validateIDOrPrefix refuses a malformed id before any store is touched.
func validateIDOrPrefix(id string) error {
	if len(id) == 32 {
		if err := session.ValidateID(id); err != nil {
			return usageError{err.Error()}
		}
		return nil
	}
	if len(id) < minIDPrefix || len(id) > 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return usageError{fmt.Sprintf("%q is not a session id: give the 32 lowercase hex characters from server-sessions, or a unique prefix of at least %d", id, minIDPrefix)}
	}
	return nil
}

// prefixScanLimit bounds the sessions a prefix lookup reads.
const prefixScanLimit = 100_000

// findSession gets a session by full id, or by a unique id prefix.
func findSession(ctx context.Context, store ports.SessionStore, id string) (ports.Session, error) {
	if len(id) == 32 {
		s, err := store.GetSession(ctx, id)
		if errors.Is(err, ports.ErrNotFound) {
			return s, fmt.Errorf("no session with id %s (list them with sentinel server-sessions --status all)", id)
		}
		return s, err
	}
	var matches []ports.Session
	scanned := 0
	for _, st := range []ports.SessionStatus{ports.SessionActive, ports.SessionRevoked, ports.SessionExpired} {
		page := ports.Page{Limit: ports.MaxPageLimit}
		for {
			p, err := store.ListSessionsByStatus(ctx, st, page)
			if err != nil {
				return ports.Session{}, err
			}
			for _, s := range p.Sessions {
				if strings.HasPrefix(s.ID, id) {
					matches = append(matches, s)
				}
			}
			scanned += len(p.Sessions)
			if p.Next == "" || scanned >= prefixScanLimit {
				break
			}
			page.Cursor = p.Next
		}
	}
	switch len(matches) {
	case 0:
		return ports.Session{}, fmt.Errorf("no session with id prefix %s (list them with sentinel server-sessions --status all)", id)
	case 1:
		return matches[0], nil
	}
	ids := make([]string, 0, len(matches))
	for _, s := range matches {
		ids = append(ids, s.ID)
	}
	return ports.Session{}, fmt.Errorf("id prefix %s is ambiguous (%s): give more characters", id, strings.Join(ids, ", "))
}

// callerIdentity resolves who runs a command: STS with the standard chain
// (or --aws-profile), or the OS user with --identity-source os.
func callerIdentity(ctx context.Context, g *Globals) (ports.Identity, error) {
	return resolveIdentity(ctx, g, func() (ports.IdentityResolver, error) {
		return awscreds.NewSTSIdentityResolver(ctx, g.AWSProfile, awscreds.Options{})
	})
}
