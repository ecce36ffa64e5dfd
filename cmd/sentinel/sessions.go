package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// ServerSessionsCmd lists sessions.
type ServerSessionsCmd struct {
	Status  string        `help:"Only sessions in this status: active, revoked, expired or all." enum:"active,revoked,expired,all" default:"active"`
	User    string        `help:"Only this user's sessions." placeholder:"USER"`
	Profile string        `help:"Only sessions for this profile." placeholder:"PROFILE"`
	Since   time.Duration `help:"Only sessions started within this long (e.g. 24h)." placeholder:"DURATION"`
	Limit   int           `help:"At most this many sessions." default:"100"`
	Output  string        `help:"Output format: table, json or csv." short:"o" enum:"table,json,csv" default:"table"`
	Quiet   bool          `help:"Print only the full session ids, one per line (for scripts)." short:"q"`
}

// Help shows examples.
func (ServerSessionsCmd) Help() string {
	return `The table shows the first 12 characters of each id; every command that takes
an id accepts such a unique prefix. --output json and csv show whole ids.

Examples:
  sentinel server-sessions
  sentinel server-sessions --status all --profile prod --since 24h --output json
  sentinel server-revoke "$(sentinel server-sessions --user alice -q | head -n 1)" --reason "laptop stolen"`
}

// Run lists sessions newest first, expiring those of dead servers first.
func (c *ServerSessionsCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	if c.Limit < 1 || c.Limit > ports.MaxPageLimit {
		return usageError{fmt.Sprintf("--limit must be 1-%d", ports.MaxPageLimit)}
	}
	if c.Since < 0 {
		return usageError{"--since must be a positive duration such as 24h"}
	}
	if g.team() {
		return c.teamList(g, env)
	}
	ctx := context.Background()
	store, err := stores.open(ctx)
	if err != nil {
		return err
	}
	sweep(ctx, store, env.Clock, logger)
	f := sessionFilter{Status: c.Status, User: c.User, Profile: c.Profile}
	if c.Since > 0 {
		f.Since = env.Clock.Now().Add(-c.Since)
	}
	sessions, err := listSessions(ctx, store, f, c.Limit)
	if err != nil {
		return err
	}
	return c.print(env, sessions)
}

// print writes sessions in the chosen format.
func (c *ServerSessionsCmd) print(env *Env, sessions []ports.Session) error {
	switch {
	case c.Quiet:
		for _, s := range sessions {
			fmt.Fprintln(env.Stdout, s.ID)
		}
		return nil
	case c.Output == "json":
		return writeJSON(env.Stdout, sessions)
	case c.Output == "csv":
		return writeSessionCSV(env.Stdout, sessions)
	}
	return writeSessionTable(env.Stdout, env.Clock.Now(), sessions)
}

// sweep retires the sessions of servers that died: whoever lists or opens the store does it.
func sweep(ctx context.Context, store ports.SessionStore, clock ports.Clock, logger *slog.Logger) {
	if _, err := store.ExpireLapsedSessions(ctx, clock.Now()); err != nil {
		logger.Warn("could not expire lapsed sessions", "error", err)
	}
}

// sessionFilter selects sessions; empty fields match anything.
type sessionFilter = session.Filter

// listSessions reads the narrowest index and filters the rest, newest
// first: the first limit sessions of session.List.
func listSessions(ctx context.Context, store ports.SessionStore, f sessionFilter, limit int) ([]ports.Session, error) {
	page, err := session.List(ctx, store, f, ports.Page{Limit: limit})
	return page.Sessions, err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if sessions, ok := v.([]ports.Session); ok && sessions == nil {
		v = []ports.Session{} // an empty list is [], never null
	}
	return enc.Encode(v)
}

var csvHeader = []string{"id", "user", "profile", "status", "server_instance_id", "started_at", "last_access_at", "expires_at",
	"request_count", "source_identity", "revoked_by", "revoked_reason", "revoked_at", "created_at", "updated_at"}

func writeSessionCSV(w io.Writer, sessions []ports.Session) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	for _, s := range sessions {
		_ = cw.Write([]string{s.ID, s.User, s.Profile, string(s.Status), s.ServerInstanceID,
			rfc3339(s.StartedAt), rfc3339(s.LastAccessAt), rfc3339(s.ExpiresAt), strconv.FormatInt(s.RequestCount, 10),
			s.SourceIdentity, s.RevokedBy, s.RevokedReason, rfc3339(s.RevokedAt), rfc3339(s.CreatedAt), rfc3339(s.UpdatedAt)})
	}
	cw.Flush()
	return cw.Error()
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// shortIDLen keeps the table inside 80 columns; a 12-hex prefix is unique in practice.
const shortIDLen = 12

func writeSessionTable(w io.Writer, now time.Time, sessions []ports.Session) error {
	if len(sessions) == 0 {
		_, err := fmt.Fprintln(w, "no sessions")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tPROFILE\tSTATUS\tSTARTED\tLAST USE\tREQS\tEXPIRES")
	for _, s := range sessions {
		expires := "-" // an ended session's lease means nothing
		if s.Status == ports.SessionActive {
			expires = ago(now, s.ExpiresAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
			s.ID[:min(len(s.ID), shortIDLen)], clip(s.User, 14), clip(s.Profile, 12), s.Status,
			ago(now, s.StartedAt), ago(now, s.LastAccessAt), s.RequestCount, expires)
	}
	return tw.Flush()
}

// clip shortens a long name for the table; json and csv keep it whole.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
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
