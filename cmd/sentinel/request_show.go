package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// RequestShowCmd shows one request.
type RequestShowCmd struct {
	ID     string `arg:"" help:"Request id, or a unique prefix of at least 8 characters."`
	Output string `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows an example.
func (RequestShowCmd) Help() string {
	return "Example:\n  sentinel request-show 5d41402abc4b --output json"
}

// Run prints the request in full.
func (c *RequestShowCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	return shown[ports.ApprovalRequest]{
		check: requestRecords.checkID,
		sweep: func(ctx context.Context, s ports.Stores, clock ports.Clock, l *slog.Logger) {
			sweepRequests(ctx, s, clock, l)
		},
		find: func(ctx context.Context, s ports.Stores, id string) (ports.ApprovalRequest, error) {
			return findRequest(ctx, s, id)
		},
		remote: func(ctx context.Context, b brokerAPI, id string) (ports.ApprovalRequest, error) {
			return b.ShowRequest(ctx, id)
		},
		detail: writeRequestDetail,
	}.show(g, env, logger, stores, c.ID, c.Output)
}

func writeRequestDetail(env *Env, r ports.ApprovalRequest) error {
	now := env.Clock.Now()
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	ends := "decide by"
	if !r.ApprovedAt.IsZero() {
		ends = "access until"
	}
	rows := [][2]string{
		{"id", r.ID}, {"status", string(r.Status)}, {"requester", r.Requester}, {"requester arn", orDash(r.RequesterARN)},
		{"profile", r.Profile}, {"justification", r.Justification}, {"duration", policy.FormatDuration(r.Duration)},
		{"created", when(now, r.CreatedAt)}, {ends, when(now, r.ExpiresAt)},
		{"approver", orDash(r.Approver)}, {"comment", orDash(r.ApproverComment)}, {"approved at", when(now, r.ApprovedAt)},
	}
	if r.CancelledBy != "" {
		rows = append(rows, [2]string{"cancelled by", r.CancelledBy})
	}
	rows = append(rows, [2]string{"updated", when(now, r.UpdatedAt)}, [2]string{"version", fmt.Sprint(r.Version)})
	return writeDetail(env, rows)
}
