package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/sentinel-gw/sentinel/ports"
	"log/slog"
	"time"

	"github.com/sentinel-gw/sentinel/core/breakglass"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/workflow"
)

// BreakGlassCmd invokes emergency access.
type BreakGlassCmd struct {
	overrideCommand
	Profile       string        `help:"AWS profile you need in the emergency." env:"AWS_PROFILE" placeholder:"NAME"`
	ReasonCode    string        `help:"Why: incident, maintenance, security, recovery or other (the policy may allow fewer)." required:"" enum:"incident,maintenance,security,recovery,other" placeholder:"CODE"`
	Justification string        `help:"What the emergency is (20-1000 characters)." required:"" placeholder:"TEXT"`
	Duration      time.Duration `help:"How long: 1m to the rule's max_duration (at most 4h; longer is capped)." default:"1h"`
	Output        string        `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows an example.
func (BreakGlassCmd) Help() string {
	return `While the event is active, a deny or require_approval decision for you and the
profile becomes an allow (never require_server), and served credentials never
outlive it. The policy's breakglass rules say who may, why, and how often.

Example:
  sentinel breakglass --profile prod --reason-code incident --justification "INC-4711: payments API down, restoring the database" --duration 30m`
}

// Run invokes break-glass and prints the event's id.
func (c *BreakGlassCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	if err := needProfile(c.Profile); err != nil {
		return err
	}
	if c.Duration < breakglass.MinDuration {
		return usageError{fmt.Sprintf("--duration %s is too short: ask for at least %s", c.Duration, policy.FormatDuration(breakglass.MinDuration))}
	}
	if g.team() {
		return c.teamOpen(g, env)
	}
	pol, err := c.loadPolicy()
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
	rule, _ := pol.BreakGlassRuleFor(who, c.Profile)
	if rule == nil {
		return fmt.Errorf("no break-glass rule lets %s invoke break-glass for %s (the policy's breakglass section lists who may)", who.Name, c.Profile)
	}
	id, err := record.NewID()
	if err != nil {
		return err
	}
	store, err := stores.create(ctx)
	if err != nil {
		return err
	}
	opened, err := breakglass.Workflows{Store: store, Notifier: notifier, Clock: env.Clock}.Open(ctx, breakglass.Opening{
		ID: id, Invoker: who, Profile: c.Profile, ReasonCode: c.ReasonCode, Justification: c.Justification, Duration: c.Duration, Rule: rule,
	})
	if _, ok := errors.AsType[workflow.NotRecordedError](err); ok {
		return notRecorded(err, g.Store)
	}
	if err != nil {
		return ruleError(err)
	}
	printWarnings(env, opened.Warnings)
	return c.print(env, opened.Event)
}

// print writes the opened event.
func (c *BreakGlassCmd) print(env *Env, e ports.BreakGlassEvent) error {
	if c.Output == "json" {
		return writeJSON(env.Stdout, e)
	}
	_, err := fmt.Fprintf(env.Stdout, "break-glass %s active: %s may use %s until %s (%s, %s)\nclose it when done: sentinel breakglass-close %s --reason TEXT\n",
		e.ID, e.Invoker, e.Profile, rfc3339(e.ExpiresAt), policy.FormatDuration(e.Duration), e.ReasonCode, e.ID[:shortIDLen])
	return err
}
