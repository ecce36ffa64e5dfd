package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sentinel-gw/sentinel/core/approval"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// ApproveCmd approves a pending request.
type ApproveCmd struct {
	overrideCommand
	ID      string `arg:"" help:"Request id, or a unique prefix of at least 8 characters."`
	Comment string `help:"Why, recorded with the approval (at most 500 characters)." placeholder:"TEXT"`
	Output  string `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows an example.
func (ApproveCmd) Help() string {
	return `Only an approver the policy lists for the request's profile may approve, and
never their own request.

Example:
  sentinel approve 5d41402abc4b --comment "ok for the hotfix"`
}

// Run approves the request and prints its id.
func (c *ApproveCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	return decide(c.overrideCommand, g, env, logger, stores, c.ID, c.Output, approval.Decision{Approve: true, Comment: c.Comment},
		func(r ports.ApprovalRequest) string {
			return fmt.Sprintf("approved request %s: %s may use %s until %s (%s)", r.ID, r.Requester, r.Profile, rfc3339(r.ExpiresAt), policy.FormatDuration(r.Duration))
		})
}

// decide is approve and deny: the policy's rule for the request's profile,
// the caller's identity, then approval.Workflows.Decide (d's verdict and
// comment; decide fills in the request, the caller and the rule).
func decide(o overrideCommand, g *Globals, env *Env, logger *slog.Logger, stores *runStore, id, output string,
	d approval.Decision, done func(ports.ApprovalRequest) string,
) error {
	if err := requestRecords.checkID(id); err != nil {
		return err
	}
	if g.team() {
		return teamDecide(g, env, id, output, d.Comment, d.Approve, done)
	}
	pol, err := o.loadPolicy()
	if err != nil {
		return err
	}
	notifier, err := newNotifier(pol, env, logger)
	if err != nil {
		return err
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
	found, err := findRequest(ctx, store, id)
	if err != nil {
		return err
	}
	rule, _ := pol.ApprovalRuleFor(found.Profile)
	d.ID, d.Who, d.Rule = found.ID, who, rule
	r, err := approval.Workflows{Store: store, Notifier: notifier, Clock: env.Clock}.Decide(ctx, d)
	if err != nil {
		return ruleError(err)
	}
	if output == "json" {
		return writeJSON(env.Stdout, r)
	}
	_, err = fmt.Fprintln(env.Stdout, done(r))
	return err
}
