package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// BreakGlassShowCmd shows one event.
type BreakGlassShowCmd struct {
	ID     string `arg:"" help:"Break-glass id, or a unique prefix of at least 8 characters."`
	Output string `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows an example.
func (BreakGlassShowCmd) Help() string {
	return "Example:\n  sentinel breakglass-show 9e107d9d372b --output json"
}

// Run prints the event in full.
func (c *BreakGlassShowCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	return shown[ports.BreakGlassEvent]{
		check: breakGlassRecords.checkID,
		sweep: func(ctx context.Context, s ports.Stores, clock ports.Clock, l *slog.Logger) {
			sweepBreakGlass(ctx, s, clock, l)
		},
		find: func(ctx context.Context, s ports.Stores, id string) (ports.BreakGlassEvent, error) {
			return findBreakGlass(ctx, s, id)
		},
		remote: func(ctx context.Context, b brokerAPI, id string) (ports.BreakGlassEvent, error) {
			return b.ShowBreakGlass(ctx, id)
		},
		detail: writeBreakGlassDetail,
	}.show(g, env, logger, stores, c.ID, c.Output)
}

func writeBreakGlassDetail(env *Env, e ports.BreakGlassEvent) error {
	now := env.Clock.Now()
	arn := e.InvokerARN
	if arn == "" {
		arn = "-"
	}
	rows := [][2]string{
		{"id", e.ID}, {"status", string(e.Status)}, {"invoker", e.Invoker}, {"invoker arn", arn},
		{"profile", e.Profile}, {"reason code", e.ReasonCode}, {"justification", e.Justification},
		{"duration", policy.FormatDuration(e.Duration)}, {"escalated", fmt.Sprint(e.Escalated)},
		{"started", when(now, e.CreatedAt)}, {"ends", when(now, e.ExpiresAt)},
	}
	if e.Status == ports.BreakGlassClosed {
		rows = append(rows, [2]string{"closed by", e.ClosedBy}, [2]string{"closed reason", e.ClosedReason})
	}
	rows = append(rows, [2]string{"updated", when(now, e.UpdatedAt)}, [2]string{"version", fmt.Sprint(e.Version)})
	return writeDetail(env, rows)
}
