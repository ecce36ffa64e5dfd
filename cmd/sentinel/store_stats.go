package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// StoreStatsCmd shows how many records the store holds.
type StoreStatsCmd struct {
	Output string `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows examples.
func (StoreStatsCmd) Help() string {
	return `Counts sessions, approval requests and break-glass events by status, and
names the oldest record of each, so you can see what retention keeps. Records
that ran out are stored as expired first, as every listing does. The counts
come from the store's status indexes: bbolt walks its index keys, Redis asks
each index's size, DynamoDB runs COUNT queries on its status index (which
consume read capacity for every record counted).

Examples:
  sentinel store stats
  sentinel store stats --store redis://localhost:6379 -o json`
}

// Run prints the counts.
func (c *StoreStatsCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	ctx := context.Background()
	store, err := stores.open(ctx)
	if err != nil {
		return err
	}
	reader, ok := store.(ports.StatsReader)
	if !ok {
		return fmt.Errorf("store %s cannot count its records", redactedStore(g.Store))
	}
	sweep(ctx, store, env.Clock, logger)
	sweepRequests(ctx, store, env.Clock, logger)
	sweepBreakGlass(ctx, store, env.Clock, logger)
	st, err := reader.Stats(ctx)
	if err != nil {
		return err
	}
	// Every status shows, a zero one too.
	fill(&st.Sessions, []ports.SessionStatus{ports.SessionActive, ports.SessionRevoked, ports.SessionExpired})
	fill(&st.Requests, requestStatuses)
	fill(&st.BreakGlass, breakGlassStatuses)
	if c.Output == "json" {
		return writeJSON(env.Stdout, st)
	}
	return writeStatsTable(env.Stdout, env.Clock.Now(), st)
}

// fill gives every status of statuses an entry, zero when none.
func fill[S ~string](r *ports.RecordStats, statuses []S) {
	if r.ByStatus == nil {
		r.ByStatus = map[string]int64{}
	}
	for _, s := range statuses {
		r.ByStatus[string(s)] += 0
	}
}

func writeStatsTable(w io.Writer, now time.Time, st ports.StoreStats) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECORDS\tTOTAL\tBY STATUS\tOLDEST")
	for _, row := range []struct {
		name     string
		r        ports.RecordStats
		statuses []string
	}{
		{"sessions", st.Sessions, []string{"active", "revoked", "expired"}},
		{"requests", st.Requests, statusNames(requestStatuses)},
		{"break-glass events", st.BreakGlass, statusNames(breakGlassStatuses)},
	} {
		parts := make([]string, 0, len(row.statuses))
		for _, s := range row.statuses {
			parts = append(parts, fmt.Sprintf("%s %d", s, row.r.ByStatus[s]))
		}
		oldest := "-"
		if row.r.OldestID != "" {
			oldest = fmt.Sprintf("%s (%s)", row.r.OldestID[:min(len(row.r.OldestID), shortIDLen)], ago(now, row.r.OldestAt))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", row.name, row.r.Total, strings.Join(parts, ", "), oldest)
	}
	return tw.Flush()
}

func statusNames[S ~string](statuses []S) []string {
	out := make([]string, len(statuses))
	for i, s := range statuses {
		out[i] = string(s)
	}
	return out
}
