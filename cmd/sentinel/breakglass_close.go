package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/sentinel-gw/sentinel/core/breakglass"
	"github.com/sentinel-gw/sentinel/ports"
)

// BreakGlassCloseCmd ends an event early.
type BreakGlassCloseCmd struct {
	overrideCommand
	ID     string `arg:"" help:"Break-glass id, or a unique prefix of at least 8 characters."`
	Reason string `help:"Why it is closed (at most 500 characters)." required:"" placeholder:"TEXT"`
	Output string `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows an example.
func (BreakGlassCloseCmd) Help() string {
	return `Its invoker, or anyone the policy lets invoke break-glass for the profile, may
close it. A running credential server refuses the next request that relied on it.

Example:
  sentinel breakglass-close 9e107d9d372b --reason "database restored"`
}

// Run closes the event and prints its id.
func (c *BreakGlassCloseCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	if err := breakGlassRecords.checkID(c.ID); err != nil {
		return err
	}
	if strings.TrimSpace(c.Reason) == "" {
		return usageError{"--reason must say why it is closed"}
	}
	if g.team() {
		return c.teamClose(g, env)
	}
	// Closing only takes access away, so a policy that does not load must
	// not stop it: the invoker may still close, without notifications.
	var notifier ports.Notifier = silentNotifier{}
	pol, err := c.loadPolicy()
	if err != nil {
		warn(env, fmt.Sprintf("policy not loaded (%v): only the invoker can close, and no webhook is told", err))
	} else if notifier, err = newNotifier(pol, env, logger); err != nil {
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
	found, err := findBreakGlass(ctx, store, c.ID)
	if err != nil {
		return err
	}
	rule, _ := pol.BreakGlassRuleFor(who, found.Profile)
	e, err := breakglass.Workflows{Store: store, Notifier: notifier, Clock: env.Clock}.Close(ctx, found.ID, who, rule, c.Reason)
	if err != nil {
		return ruleError(err)
	}
	return c.print(env, e)
}

// print writes the closed event.
func (c *BreakGlassCloseCmd) print(env *Env, e ports.BreakGlassEvent) error {
	if c.Output == "json" {
		return writeJSON(env.Stdout, e)
	}
	_, err := fmt.Fprintf(env.Stdout, "closed break-glass %s of %s for %s: %s\n", e.ID, e.Invoker, e.Profile, e.ClosedReason)
	return err
}
