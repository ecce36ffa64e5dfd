package main

import (
	"fmt"
	"log/slog"

	"github.com/sentinel-gw/sentinel/core/approval"
	"github.com/sentinel-gw/sentinel/ports"
)

// DenyCmd denies a pending request.
type DenyCmd struct {
	overrideCommand
	ID      string `arg:"" help:"Request id, or a unique prefix of at least 8 characters."`
	Comment string `help:"Why, recorded with the denial (at most 500 characters)." placeholder:"TEXT"`
	Output  string `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows an example.
func (DenyCmd) Help() string {
	return `Only an approver the policy lists for the request's profile may deny.

Example:
  sentinel deny 5d41402abc4b --comment "use the staging account"`
}

// Run denies the request and prints its id.
func (c *DenyCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	return decide(c.overrideCommand, g, env, logger, stores, c.ID, c.Output, approval.Decision{Comment: c.Comment},
		func(r ports.ApprovalRequest) string {
			return fmt.Sprintf("denied request %s of %s for %s", r.ID, r.Requester, r.Profile)
		})
}
