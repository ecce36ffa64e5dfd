package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/sentinel-gw/sentinel/core/approval"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/ports"
)

// RequestCmd asks a second person for access to a profile.
type RequestCmd struct {
	overrideCommand
	Profile       string        `help:"AWS profile you need access to." env:"AWS_PROFILE" placeholder:"NAME"`
	Justification string        `help:"Why you need it, for the approver (10-500 characters)." required:"" placeholder:"TEXT"`
	Duration      time.Duration `help:"How long the access lasts once approved: 1m to 8h (longer is capped to 8h)." default:"1h"`
	Output        string        `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
	Wait          bool          `help:"Block until the request is approved, denied, cancelled or expired; the exit code says which (see below)."`
	Timeout       time.Duration `help:"With --wait: stop waiting after this long (exit 6; the request stays pending). 0 waits until the request's deadline." default:"0"`
}

// Exit codes of request --wait: approved is exitOK.
const (
	exitDenied    = 3
	exitCancelled = 4
	exitExpired   = 5
	exitTimedOut  = 6
)

// Help shows an example.
func (RequestCmd) Help() string {
	return `The request waits 24h for an approver's decision; once approved, the access
runs for --duration from the moment of approval, and a running credential
server honours it on its next request.

With --wait, the command blocks until the request is decided. On a terminal
it shows the time waited; otherwise it prints one line when it starts
waiting. It prints the outcome and exits with:
  0  approved (also when approved automatically)
  3  denied
  4  cancelled
  5  expired (no decision before the request's deadline)
  6  --timeout ran out first (the request stays pending)
  1  any other failure

Examples:
  sentinel request --profile prod --justification "deploy the 4.2 hotfix (CHG-1234)" --duration 2h
  sentinel request --profile prod --justification "rotate the TLS certificates" --wait --timeout 30m && terraform apply`
}

// Run creates the request, approves it at once when the policy's
// auto_approve matches, and prints its id.
func (c *RequestCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	if err := needProfile(c.Profile); err != nil {
		return err
	}
	if c.Timeout < 0 || (c.Timeout != 0 && !c.Wait) {
		return usageError{"--timeout applies only with --wait, and must not be negative"}
	}
	if c.Duration < approval.MinDuration {
		return usageError{fmt.Sprintf("--duration %s is too short: ask for %s to %s", c.Duration, policy.FormatDuration(approval.MinDuration), policy.FormatDuration(approval.MaxDuration))}
	}
	if g.team() {
		return c.teamCreate(g, env)
	}
	pol, err := c.loadPolicy()
	if err != nil {
		return err
	}
	rule, ok := pol.ApprovalRuleFor(c.Profile)
	if !ok {
		return refusal(approval.NoRule(c.Profile))
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
	id, err := record.NewID()
	if err != nil {
		return err
	}
	draft, err := approval.NewDraft(approval.Submission{
		ID: id, Requester: who, Profile: c.Profile, Justification: c.Justification, Duration: c.Duration, Rule: rule,
	}, env.Clock.Now())
	if err != nil {
		return ruleError(err)
	}
	for _, w := range draft.Warnings {
		warn(env, w)
	}
	store, err := stores.create(ctx)
	if err != nil {
		return err
	}
	submitted, err := approval.Workflows{Store: store, Notifier: notifier, Clock: env.Clock}.Submit(ctx, draft)
	if err != nil {
		return notRecorded(err, g.Store)
	}
	r, auto := submitted.Request, submitted.AutoApproved

	if c.Output == "json" {
		if c.Wait && !auto {
			return c.wait(ctx, env, store.GetRequest, r) // prints the request once decided
		}
		return writeJSON(env.Stdout, r)
	}
	if auto {
		_, err = fmt.Fprintf(env.Stdout, "request %s approved automatically by approval rule %s: %s may use %s until %s\n",
			r.ID, rule.Name, r.Requester, r.Profile, rfc3339(r.ExpiresAt))
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "request %s created: %s asks for %s for %s; pending until %s\nan approver (%s) approves it with: sentinel approve %s\n",
		r.ID, r.Requester, r.Profile, policy.FormatDuration(r.Duration), rfc3339(r.ExpiresAt),
		strings.Join(rule.Approvers, ", "), r.ID[:shortIDLen])
	if err != nil || !c.Wait {
		return err
	}
	return c.wait(ctx, env, store.GetRequest, r)
}

// waitPoll is how often request --wait re-reads the request.
const waitPoll = 500 * time.Millisecond

// wait blocks until r leaves pending (or its deadline or --timeout passes),
// prints the outcome and returns the exit code that names it.
func (c *RequestCmd) wait(ctx context.Context, env *Env, get func(context.Context, string) (ports.ApprovalRequest, error), r ports.ApprovalRequest) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := env.Clock.Now()
	short := r.ID[:shortIDLen]
	tty := isTerminal(env.Stderr)
	if !tty {
		fmt.Fprintf(env.Stderr, "sentinel: waiting for a decision on request %s (pending until %s)\n", short, rfc3339(r.ExpiresAt))
	}
	ticker := time.NewTicker(waitPoll)
	defer ticker.Stop()
	for {
		cur, err := get(ctx, r.ID)
		switch {
		case errors.Is(err, ports.ErrUnavailable):
			// A lock held by another sentinel, or a store blip: read again.
		case err != nil:
			return fmt.Errorf("waiting for request %s: %w", short, err)
		default:
			r = cur
		}
		now := env.Clock.Now()
		if r.Status == ports.RequestPending && r.Lapsed(now) {
			r.Status = ports.RequestExpired // the next listing stores it
		}
		if r.Status != ports.RequestPending {
			if tty {
				fmt.Fprint(env.Stderr, "\r\033[K")
			}
			return c.waitOutcome(env, r)
		}
		waited := now.Sub(start)
		if c.Timeout > 0 && waited >= c.Timeout {
			if tty {
				fmt.Fprint(env.Stderr, "\r\033[K")
			}
			return exitCodeError{code: exitTimedOut, err: fmt.Errorf("request %s is still pending after --timeout %s; it stays pending until %s", short, c.Timeout, rfc3339(r.ExpiresAt))}
		}
		if tty {
			fmt.Fprintf(env.Stderr, "\rsentinel: waiting for a decision on request %s: %s", short, waited.Truncate(time.Second))
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(env.Stderr)
			}
			return fmt.Errorf("stopped waiting; request %s stays pending (sentinel request-cancel %s withdraws it)", short, short)
		case <-ticker.C:
		}
	}
}

// waitOutcome prints how r ended and returns its exit code.
func (c *RequestCmd) waitOutcome(env *Env, r ports.ApprovalRequest) error {
	if c.Output == "json" {
		if err := writeJSON(env.Stdout, r); err != nil {
			return err
		}
	} else {
		line := fmt.Sprintf("request %s %s", r.ID, r.Status)
		switch r.Status {
		case ports.RequestApproved:
			line += fmt.Sprintf(" by %s: %s may use %s until %s", r.Approver, r.Requester, r.Profile, rfc3339(r.ExpiresAt))
		case ports.RequestDenied:
			line += " by " + r.Approver
		case ports.RequestCancelled:
			if r.CancelledBy != "" {
				line += " by " + r.CancelledBy
			}
		}
		if r.ApproverComment != "" {
			line += fmt.Sprintf(" (%q)", r.ApproverComment)
		}
		if _, err := fmt.Fprintln(env.Stdout, line); err != nil {
			return err
		}
	}
	switch r.Status {
	case ports.RequestApproved:
		return nil
	case ports.RequestDenied:
		return exitCodeError{code: exitDenied}
	case ports.RequestCancelled:
		return exitCodeError{code: exitCancelled}
	default:
		return exitCodeError{code: exitExpired}
	}
}

// isTerminal reports whether w is a terminal (for a live elapsed-time line).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) // #nosec G115 -- a file descriptor fits an int
}
