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
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/sentinel-gw/sentinel/core/approval"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/workflow"
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
func (c *RequestCmd) Run(g *Globals, env *Env, logger *slog.Logger) error {
	if err := needProfile(c.Profile); err != nil {
		return err
	}
	if c.Timeout < 0 || (c.Timeout != 0 && !c.Wait) {
		return usageError{"--timeout applies only with --wait, and must not be negative"}
	}
	if c.Duration < approval.MinDuration {
		return usageError{fmt.Sprintf("--duration %s is too short: ask for %s to %s", c.Duration, policy.FormatDuration(approval.MinDuration), policy.FormatDuration(approval.MaxDuration))}
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
	store, err := createStore(ctx, g.Store, env.Clock)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	submitted, err := approval.Workflows{Store: store, Notifier: notifier, Clock: env.Clock}.Submit(ctx, draft)
	if err != nil {
		return notRecorded(err, g.Store)
	}
	r, auto := submitted.Request, submitted.AutoApproved

	if c.Output == "json" {
		if c.Wait && !auto {
			return c.wait(ctx, env, store, r) // prints the request once decided
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
	return c.wait(ctx, env, store, r)
}

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
func (c *RequestsCmd) Run(g *Globals, env *Env, logger *slog.Logger) error {
	if c.Limit < 1 || c.Limit > ports.MaxPageLimit {
		return usageError{fmt.Sprintf("--limit must be 1-%d", ports.MaxPageLimit)}
	}
	ctx := context.Background()
	store, err := openStore(ctx, g.Store, env.Clock)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	sweepRequests(ctx, store, env.Clock, logger)

	var lists []listing[ports.ApprovalRequest]
	switch {
	case c.Requester != "":
		lists = append(lists, func(ctx context.Context, p ports.Page) ([]ports.ApprovalRequest, string, error) {
			got, err := store.ListRequestsByRequester(ctx, c.Requester, p)
			return got.Requests, got.Next, err
		})
	case c.Profile != "":
		lists = append(lists, func(ctx context.Context, p ports.Page) ([]ports.ApprovalRequest, string, error) {
			got, err := store.ListRequestsByProfile(ctx, c.Profile, p)
			return got.Requests, got.Next, err
		})
	default:
		for _, st := range statusChoice(c.Status, requestStatuses) {
			lists = append(lists, requestsByStatus(store, st))
		}
	}
	keep := func(r ports.ApprovalRequest) bool {
		return (c.Requester == "" || r.Requester == c.Requester) && (c.Profile == "" || r.Profile == c.Profile) &&
			(c.Status == "all" || string(r.Status) == c.Status)
	}
	requests, err := collectNewest(ctx, lists, keep, ports.RequestPosition, c.Limit)
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
func (c *RequestShowCmd) Run(g *Globals, env *Env, logger *slog.Logger) error {
	if err := requestRecords.checkID(c.ID); err != nil {
		return err
	}
	ctx := context.Background()
	store, err := openStore(ctx, g.Store, env.Clock)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	sweepRequests(ctx, store, env.Clock, logger)
	r, err := findRequest(ctx, store, c.ID)
	if err != nil {
		return err
	}
	if c.Output == "json" {
		return writeJSON(env.Stdout, r)
	}
	return writeRequestDetail(env, r)
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
func (c *ApproveCmd) Run(g *Globals, env *Env, logger *slog.Logger) error {
	return decide(c.overrideCommand, g, env, logger, c.ID, c.Output, approval.Decision{Approve: true, Comment: c.Comment},
		func(r ports.ApprovalRequest) string {
			return fmt.Sprintf("approved request %s: %s may use %s until %s (%s)", r.ID, r.Requester, r.Profile, rfc3339(r.ExpiresAt), policy.FormatDuration(r.Duration))
		})
}

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
func (c *DenyCmd) Run(g *Globals, env *Env, logger *slog.Logger) error {
	return decide(c.overrideCommand, g, env, logger, c.ID, c.Output, approval.Decision{Comment: c.Comment},
		func(r ports.ApprovalRequest) string {
			return fmt.Sprintf("denied request %s of %s for %s", r.ID, r.Requester, r.Profile)
		})
}

// decide is approve and deny: the policy's rule for the request's profile,
// the caller's identity, then approval.Workflows.Decide (d's verdict and
// comment; decide fills in the request, the caller and the rule).
func decide(o overrideCommand, g *Globals, env *Env, logger *slog.Logger, id, output string,
	d approval.Decision, done func(ports.ApprovalRequest) string,
) error {
	if err := requestRecords.checkID(id); err != nil {
		return err
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
	store, err := openStore(ctx, g.Store, env.Clock)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
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
func (c *RequestCancelCmd) Run(g *Globals, env *Env, logger *slog.Logger) error {
	if err := requestRecords.checkID(c.ID); err != nil {
		return err
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
	store, err := openStore(ctx, g.Store, env.Clock)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	found, err := findRequest(ctx, store, c.ID)
	if err != nil {
		return err
	}
	rule, _ := pol.ApprovalRuleFor(found.Profile)
	r, err := approval.Workflows{Store: store, Clock: env.Clock}.Cancel(ctx, found.ID, who, rule)
	if err != nil {
		return ruleError(err)
	}
	if c.Output == "json" {
		return writeJSON(env.Stdout, r)
	}
	_, err = fmt.Fprintf(env.Stdout, "cancelled request %s of %s for %s\n", r.ID, r.Requester, r.Profile)
	return err
}

// ruleError presents a refusal by the approval or break-glass rules: bad
// input is a usage error (exit 2), a refusal a plain one (exit 1).
func ruleError(err error) error {
	switch {
	case errors.Is(err, ports.ErrInvalidArgument):
		return usageError{refusal(err).Error()}
	case errors.Is(err, policy.ErrForbidden), errors.Is(err, ports.ErrInvalidTransition), errors.Is(err, ports.ErrAlreadyExists):
		return refusal(err)
	}
	return err
}

// notRecorded presents a workflow's error: a record the store did not take
// names the store; anything else is the workflow's own message.
func notRecorded(err error, storeURL string) error {
	if nr, ok := errors.AsType[workflow.NotRecordedError](err); ok {
		return fmt.Errorf("could not record the %s in %s: %w", nr.What, redactedStore(storeURL), nr.Err)
	}
	return err
}

// waitPoll is how often request --wait re-reads the request.
const waitPoll = 500 * time.Millisecond

// wait blocks until r leaves pending (or its deadline or --timeout passes),
// prints the outcome and returns the exit code that names it.
func (c *RequestCmd) wait(ctx context.Context, env *Env, store ports.ApprovalStore, r ports.ApprovalRequest) error {
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
		cur, err := store.GetRequest(ctx, r.ID)
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
