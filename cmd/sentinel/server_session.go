package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

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
func (c *ServerSessionCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	return shown[ports.Session]{
		check: validateIDOrPrefix,
		sweep: func(ctx context.Context, s ports.Stores, clock ports.Clock, l *slog.Logger) { sweep(ctx, s, clock, l) },
		find: func(ctx context.Context, s ports.Stores, id string) (ports.Session, error) {
			return findSession(ctx, s, id)
		},
		remote: func(ctx context.Context, b brokerAPI, id string) (ports.Session, error) {
			return b.ShowSession(ctx, id)
		},
		detail: writeSessionDetail,
	}.show(g, env, logger, stores, c.ID, c.Output)
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
	rows = append(rows, [2]string{"revocation poll", pollShown(s.RevocationPoll)})
	for _, r := range rows {
		if _, err := fmt.Fprintf(env.Stdout, "%-16s %s\n", r[0]+":", r[1]); err != nil {
			return err
		}
	}
	return nil
}
