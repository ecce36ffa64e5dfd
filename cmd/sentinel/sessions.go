package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// ServerSessionsCmd lists sessions.
type ServerSessionsCmd struct {
	Status  string `help:"Only sessions in this status: active, revoked, expired or all." enum:"active,revoked,expired,all" default:"active"`
	User    string `help:"Only this user's sessions." placeholder:"USER"`
	Profile string `help:"Only sessions for this profile." placeholder:"PROFILE"`
	Limit   int    `help:"At most this many sessions." default:"100"`
	Output  string `help:"Output format: table or json." enum:"table,json" default:"table"`
}

// Help shows an example.
func (ServerSessionsCmd) Help() string {
	return "Example:\n  sentinel server-sessions --profile prod --output json"
}

// Run lists sessions newest first, expiring lapsed ones first.
func (c *ServerSessionsCmd) Run(g *Globals, env *Env, logger *slog.Logger) error {
	if c.Limit < 1 || c.Limit > ports.MaxPageLimit {
		return usageError{fmt.Sprintf("--limit must be 1-%d", ports.MaxPageLimit)}
	}
	ctx := context.Background()
	store, err := openStore(ctx, g.Store, env.Clock)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	// Whoever lists sessions also retires those of servers that died.
	if _, err := store.ExpireLapsedSessions(ctx, env.Clock.Now()); err != nil {
		logger.Warn("could not expire lapsed sessions", "error", err)
	}
	sessions, err := c.list(ctx, store)
	if err != nil {
		return err
	}
	if c.Output == "json" {
		if sessions == nil {
			sessions = []ports.Session{}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sessions)
	}
	return printSessionTable(env, sessions)
}

// list picks the narrowest index and filters the rest, page by page.
func (c *ServerSessionsCmd) list(ctx context.Context, store ports.SessionStore) ([]ports.Session, error) {
	var fetch func(ports.Page) (ports.SessionPage, error)
	switch {
	case c.User != "":
		fetch = func(p ports.Page) (ports.SessionPage, error) { return store.ListSessionsByUser(ctx, c.User, p) }
	case c.Profile != "":
		fetch = func(p ports.Page) (ports.SessionPage, error) { return store.ListSessionsByProfile(ctx, c.Profile, p) }
	case c.Status != "all":
		fetch = func(p ports.Page) (ports.SessionPage, error) {
			return store.ListSessionsByStatus(ctx, ports.SessionStatus(c.Status), p)
		}
	default:
		return c.listAll(ctx, store)
	}
	return collect(fetch, c.Limit, c.keep)
}

// listAll merges the three status listings, newest first.
func (c *ServerSessionsCmd) listAll(ctx context.Context, store ports.SessionStore) ([]ports.Session, error) {
	var all []ports.Session
	for _, st := range []ports.SessionStatus{ports.SessionActive, ports.SessionRevoked, ports.SessionExpired} {
		got, err := collect(func(p ports.Page) (ports.SessionPage, error) { return store.ListSessionsByStatus(ctx, st, p) }, c.Limit, c.keep)
		if err != nil {
			return nil, err
		}
		all = append(all, got...)
	}
	ports.SortNewestFirst(all)
	if len(all) > c.Limit {
		all = all[:c.Limit]
	}
	return all, nil
}

func (c *ServerSessionsCmd) keep(s ports.Session) bool {
	return (c.User == "" || s.User == c.User) &&
		(c.Profile == "" || s.Profile == c.Profile) &&
		(c.Status == "all" || string(s.Status) == c.Status)
}

// collect pages through fetch until limit sessions pass keep.
func collect(fetch func(ports.Page) (ports.SessionPage, error), limit int, keep func(ports.Session) bool) ([]ports.Session, error) {
	var out []ports.Session
	page := ports.Page{Limit: min(limit, ports.MaxPageLimit)}
	for {
		p, err := fetch(page)
		if err != nil {
			return nil, err
		}
		for _, s := range p.Sessions {
			if keep(s) {
				out = append(out, s)
				if len(out) == limit {
					return out, nil
				}
			}
		}
		if p.Next == "" {
			return out, nil
		}
		page.Cursor = p.Next
	}
}

func printSessionTable(env *Env, sessions []ports.Session) error {
	if len(sessions) == 0 {
		_, err := fmt.Fprintln(env.Stdout, "no sessions")
		return err
	}
	now := env.Clock.Now()
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tPROFILE\tSTATUS\tSTARTED\tLAST ACCESS\tREQS\tEXPIRES")
	for _, s := range sessions {
		expires := "-" // an ended session's lease means nothing
		if s.Status == ports.SessionActive {
			expires = ago(now, s.ExpiresAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
			s.ID, s.User, s.Profile, s.Status, ago(now, s.StartedAt), ago(now, s.LastAccessAt), s.RequestCount, expires)
	}
	return tw.Flush()
}

// ago renders t relative to now: "3m ago", "in 45s", "-".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if d := now.Sub(t); d >= 0 {
		return roughDuration(d) + " ago"
	}
	return "in " + roughDuration(t.Sub(now))
}

func roughDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// ServerRevokeCmd revokes a session.
type ServerRevokeCmd struct {
	ID     string `arg:"" help:"Session id (32 hex characters, from server-sessions)."`
	Reason string `help:"Why; recorded with the revoke." required:""`
}

// Help shows an example.
func (ServerRevokeCmd) Help() string {
	return `Example:
  sentinel server-revoke 0f8e3c2a9b7d4e1f8a6c5b4d3e2f1a09 --reason "laptop stolen"`
}

// Run revokes the session; the live server refuses its next request.
func (c *ServerRevokeCmd) Run(g *Globals, env *Env) error {
	if err := session.ValidateID(c.ID); err != nil {
		return usageError{err.Error()}
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
	s, err := session.UpdateWithRetry(ctx, store, c.ID, func(s ports.Session) (ports.Session, error) {
		return session.Revoke(s, who.Name, c.Reason, env.Clock.Now())
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "revoked session %s (user %s, profile %s) by %s: %s\n", s.ID, s.User, s.Profile, s.RevokedBy, s.RevokedReason)
	return err
}

// callerIdentity resolves who runs a command: STS with the standard chain
// (or --aws-profile), or the OS user with --identity-source os.
func callerIdentity(ctx context.Context, g *Globals) (ports.Identity, error) {
	return resolveIdentity(ctx, g, func() (ports.IdentityResolver, error) {
		return awscreds.NewSTSIdentityResolver(ctx, g.AWSProfile, awscreds.Options{})
	})
}
