package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/sentinel-gw/sentinel/core/breakglass"
	"github.com/sentinel-gw/sentinel/ports"
)

// BreakGlassListCmd lists break-glass events.
type BreakGlassListCmd struct {
	Status  string `help:"Only events in this status: active, closed, expired or all." enum:"active,closed,expired,all" default:"all"`
	Invoker string `help:"Only this person's events." placeholder:"USER"`
	Profile string `help:"Only events for this profile." placeholder:"PROFILE"`
	Limit   int    `help:"At most this many events." default:"100"`
	Output  string `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows examples.
func (BreakGlassListCmd) Help() string {
	return `Events that ran out are stored as expired before listing. ESC marks an
event past the rule's escalation threshold.

Examples:
  sentinel breakglass-list --status active
  sentinel breakglass-list --invoker alice --profile prod --output json`
}

// Run lists events newest first.
func (c *BreakGlassListCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	if c.Limit < 1 || c.Limit > ports.MaxPageLimit {
		return usageError{fmt.Sprintf("--limit must be 1-%d", ports.MaxPageLimit)}
	}
	if g.team() {
		return c.teamList(g, env)
	}
	ctx := context.Background()
	store, err := stores.open(ctx)
	if err != nil {
		return err
	}
	sweepBreakGlass(ctx, store, env.Clock, logger)

	events, err := breakglass.List(ctx, store, breakglass.Filter{Status: c.Status, Invoker: c.Invoker, Profile: c.Profile}, c.Limit)
	if err != nil {
		return err
	}
	if c.Output == "json" {
		return writeJSON(env.Stdout, events)
	}
	return writeBreakGlassTable(env.Stdout, env.Clock.Now(), events)
}

// sweepBreakGlass stores expired for events that ran out.
func sweepBreakGlass(ctx context.Context, store ports.BreakGlassStore, clock ports.Clock, logger *slog.Logger) {
	if _, err := store.ExpireLapsedBreakGlass(ctx, clock.Now()); err != nil {
		logger.Warn("could not expire lapsed break-glass events", "error", err)
	}
}

func writeBreakGlassTable(w io.Writer, now time.Time, events []ports.BreakGlassEvent) error {
	if len(events) == 0 {
		_, err := fmt.Fprintln(w, "no break-glass events")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tINVOKER\tPROFILE\tSTATUS\tREASON\tSTARTED\tENDS\tESC")
	for _, e := range events {
		ends := "-"
		if e.Status == ports.BreakGlassActive {
			ends = ago(now, e.ExpiresAt)
		}
		esc := "-"
		if e.Escalated {
			esc = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			e.ID[:min(len(e.ID), shortIDLen)], clip(e.Invoker, 14), clip(e.Profile, 12), e.Status, e.ReasonCode,
			ago(now, e.CreatedAt), ends, esc)
	}
	return tw.Flush()
}
