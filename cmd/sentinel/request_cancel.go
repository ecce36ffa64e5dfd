package main

import (
	"context"
	"fmt"
	"github.com/sentinel-gw/sentinel/ports"
	"log/slog"

	"github.com/sentinel-gw/sentinel/core/approval"
)

// RequestCancelCmd withdraws a request, or ends an approved one early.
type RequestCancelCmd struct {
	overrideCommand
	ID     string `arg:"" help:"Request id, or a unique prefix of at least 8 characters."`
	Output string `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows an example.
func (RequestCancelCmd) Help() string {
	return `A pending request is cancelled by its requester; an approved one by its
requester or an approver. A running credential server refuses the next
request that relied on it.

Example:
  sentinel request-cancel 5d41402abc4b`
}

// Run cancels the request and prints its id.
func (c *RequestCancelCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	if err := requestRecords.checkID(c.ID); err != nil {
		return err
	}
	if g.team() {
		return c.teamCancel(g, env)
	}
	// Cancelling only takes access away, so a policy that does not load
	// must not stop it: the requester may still cancel, approvers may not.
	pol, err := c.loadPolicy()
	if err != nil {
		warn(env, fmt.Sprintf("policy not loaded (%v): only the requester can cancel", err))
	}
	ctx := context.Background()
	who, err := callerIdentity(ctx, g)
	if err != nil {
		return err
	}
	store, err := stores.open(ctx)
	if err != nil {
		return err
	}
	found, err := findRequest(ctx, store, c.ID)
	if err != nil {
		return err
	}
	rule, _ := pol.ApprovalRuleFor(found.Profile)
	r, err := approval.Workflows{Store: store, Clock: env.Clock}.Cancel(ctx, found.ID, who, rule)
	if err != nil {
		return ruleError(err)
	}
	return c.print(env, r)
}

// print writes the cancelled request.
func (c *RequestCancelCmd) print(env *Env, r ports.ApprovalRequest) error {
	if c.Output == "json" {
		return writeJSON(env.Stdout, r)
	}
	_, err := fmt.Fprintf(env.Stdout, "cancelled request %s of %s for %s\n", r.ID, r.Requester, r.Profile)
	return err
}
