package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/sentinel-gw/sentinel/core/approval"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// RequestsCmd lists approval requests.
type RequestsCmd struct {
	Status    string `help:"Only requests in this status: pending, approved, denied, expired, cancelled or all." enum:"pending,approved,denied,expired,cancelled,all" default:"all"`
	Requester string `help:"Only this person's requests." placeholder:"USER"`
	Profile   string `help:"Only requests for this profile." placeholder:"PROFILE"`
	Limit     int    `help:"At most this many requests." default:"100"`
	Output    string `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows examples.
func (RequestsCmd) Help() string {
	return `Requests past their deadline are stored as expired before listing. The table
shows the first 12 characters of each id; every command that takes an id
accepts such a unique prefix.

Examples:
  sentinel requests --status pending
  sentinel requests --requester alice --profile prod --output json`
}

// Run lists requests newest first.
func (c *RequestsCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
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
	sweepRequests(ctx, store, env.Clock, logger)

	requests, err := approval.List(ctx, store, approval.Filter{Status: c.Status, Requester: c.Requester, Profile: c.Profile}, c.Limit)
	if err != nil {
		return err
	}
	if c.Output == "json" {
		return writeJSON(env.Stdout, requests)
	}
	return writeRequestTable(env.Stdout, env.Clock.Now(), requests)
}

// sweepRequests stores expired for lapsed requests: whoever lists does it.
func sweepRequests(ctx context.Context, store ports.ApprovalStore, clock ports.Clock, logger *slog.Logger) {
	if _, err := store.ExpireLapsedRequests(ctx, clock.Now()); err != nil {
		logger.Warn("could not expire lapsed requests", "error", err)
	}
}

func writeRequestTable(w io.Writer, now time.Time, requests []ports.ApprovalRequest) error {
	if len(requests) == 0 {
		_, err := fmt.Fprintln(w, "no requests")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREQUESTER\tPROFILE\tSTATUS\tFOR\tCREATED\tENDS\tAPPROVER")
	for _, r := range requests {
		ends := "-" // a decided or withdrawn request has no deadline left
		if r.Status == ports.RequestPending || r.Status == ports.RequestApproved {
			ends = ago(now, r.ExpiresAt)
		}
		approver := r.Approver
		if approver == "" {
			approver = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.ID[:min(len(r.ID), shortIDLen)], clip(r.Requester, 14), clip(r.Profile, 12), r.Status,
			policy.FormatDuration(r.Duration), ago(now, r.CreatedAt), ends, clip(approver, 14))
	}
	return tw.Flush()
}
