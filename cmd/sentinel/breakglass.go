package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sentinel-gw/sentinel/core/breakglass"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/workflow"
	"github.com/sentinel-gw/sentinel/ports"
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
func (c *BreakGlassCmd) Run(g *Globals, env *Env, logger *slog.Logger) error {
	if err := needProfile(c.Profile); err != nil {
		return err
	}
	if c.Duration < breakglass.MinDuration {
		return usageError{fmt.Sprintf("--duration %s is too short: ask for at least %s", c.Duration, policy.FormatDuration(breakglass.MinDuration))}
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
	store, err := createStore(ctx, g.Store, env.Clock)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	opened, err := breakglass.Workflows{Store: store, Notifier: notifier, Clock: env.Clock}.Open(ctx, breakglass.Opening{
		ID: id, Invoker: who, Profile: c.Profile, ReasonCode: c.ReasonCode, Justification: c.Justification, Duration: c.Duration, Rule: rule,
	})
	if _, ok := errors.AsType[workflow.NotRecordedError](err); ok {
		return notRecorded(err, g.Store)
	}
	if err != nil {
		return ruleError(err)
	}
	e := opened.Event
	for _, w := range opened.Warnings {
		warn(env, w)
	}
	if c.Output == "json" {
		return writeJSON(env.Stdout, e)
	}
	_, err = fmt.Fprintf(env.Stdout, "break-glass %s active: %s may use %s until %s (%s, %s)\nclose it when done: sentinel breakglass-close %s --reason TEXT\n",
		e.ID, e.Invoker, e.Profile, rfc3339(e.ExpiresAt), policy.FormatDuration(e.Duration), e.ReasonCode, e.ID[:shortIDLen])
	return err
}

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
func (c *BreakGlassListCmd) Run(g *Globals, env *Env, logger *slog.Logger) error {
	if c.Limit < 1 || c.Limit > ports.MaxPageLimit {
		return usageError{fmt.Sprintf("--limit must be 1-%d", ports.MaxPageLimit)}
	}
	ctx := context.Background()
	store, err := openStore(ctx, g.Store, env.Clock)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	sweepBreakGlass(ctx, store, env.Clock, logger)

	var lists []listing[ports.BreakGlassEvent]
	switch {
	case c.Invoker != "":
		lists = append(lists, func(ctx context.Context, p ports.Page) ([]ports.BreakGlassEvent, string, error) {
			got, err := store.ListBreakGlassByInvoker(ctx, c.Invoker, p)
			return got.Events, got.Next, err
		})
	case c.Profile != "":
		lists = append(lists, func(ctx context.Context, p ports.Page) ([]ports.BreakGlassEvent, string, error) {
			got, err := store.ListBreakGlassByProfile(ctx, c.Profile, p)
			return got.Events, got.Next, err
		})
	default:
		for _, st := range statusChoice(c.Status, breakGlassStatuses) {
			lists = append(lists, breakGlassByStatus(store, st))
		}
	}
	keep := func(e ports.BreakGlassEvent) bool {
		return (c.Invoker == "" || e.Invoker == c.Invoker) && (c.Profile == "" || e.Profile == c.Profile) &&
			(c.Status == "all" || string(e.Status) == c.Status)
	}
	events, err := collectNewest(ctx, lists, keep, ports.BreakGlassPosition, c.Limit)
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
func (c *BreakGlassShowCmd) Run(g *Globals, env *Env, logger *slog.Logger) error {
	if err := breakGlassRecords.checkID(c.ID); err != nil {
		return err
	}
	ctx := context.Background()
	store, err := openStore(ctx, g.Store, env.Clock)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	sweepBreakGlass(ctx, store, env.Clock, logger)
	e, err := findBreakGlass(ctx, store, c.ID)
	if err != nil {
		return err
	}
	if c.Output == "json" {
		return writeJSON(env.Stdout, e)
	}
	return writeBreakGlassDetail(env, e)
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
func (c *BreakGlassCloseCmd) Run(g *Globals, env *Env, logger *slog.Logger) error {
	if err := breakGlassRecords.checkID(c.ID); err != nil {
		return err
	}
	if strings.TrimSpace(c.Reason) == "" {
		return usageError{"--reason must say why it is closed"}
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
	store, err := openStore(ctx, g.Store, env.Clock)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	found, err := findBreakGlass(ctx, store, c.ID)
	if err != nil {
		return err
	}
	rule, _ := pol.BreakGlassRuleFor(who, found.Profile)
	e, err := breakglass.Workflows{Store: store, Notifier: notifier, Clock: env.Clock}.Close(ctx, found.ID, who, rule, c.Reason)
	if err != nil {
		return ruleError(err)
	}
	if c.Output == "json" {
		return writeJSON(env.Stdout, e)
	}
	_, err = fmt.Fprintf(env.Stdout, "closed break-glass %s of %s for %s: %s\n", e.ID, e.Invoker, e.Profile, e.ClosedReason)
	return err
}
