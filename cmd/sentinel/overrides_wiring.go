package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/policyfile"
	"github.com/sentinel-gw/sentinel/adapters/webhook"
	"github.com/sentinel-gw/sentinel/core/approval"
	"github.com/sentinel-gw/sentinel/core/breakglass"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/workflow"
	"github.com/sentinel-gw/sentinel/ports"
)

// What the request and break-glass commands share: the policy, the
// notifier, the store lookups the server uses, and newest-first listings.

// overrideCommand is what every request and break-glass command takes
// besides the globals: the policy file, where their rules live.
type overrideCommand struct {
	Policy string `help:"Policy file: its approvals, breakglass and notifications sections apply." env:"SENTINEL_POLICY" default:"${default_policy}" type:"path"`
}

// loadPolicy reads the policy once; a command acts on one consistent view.
func (o overrideCommand) loadPolicy() (*policy.Policy, error) {
	return policyfile.Load(o.Policy)
}

// newNotifier builds the webhooks of pol. A configured webhook whose secret
// variable is unset is an error, so a command fails before it acts rather
// than act unannounced.
func newNotifier(pol *policy.Policy, env *Env, logger *slog.Logger) (ports.Notifier, error) {
	if len(pol.Webhooks) == 0 {
		return silentNotifier{}, nil
	}
	n, err := webhook.New(webhook.Config{Webhooks: pol.Webhooks, Getenv: env.Getenv, Logger: logger, Clock: env.Clock})
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	return n, nil
}

// silentNotifier is the notifier of a policy without webhooks.
type silentNotifier struct{}

func (silentNotifier) Notify(context.Context, ports.Notification) {}

// overrideLookups are the gateway's approval and break-glass lookups.
type overrideLookups struct {
	approvals  ports.ApprovalLookup
	breakGlass ports.BreakGlassLookup
}

// lookupsOn reads approvals and break-glass events from store, honouring
// only those the policy current returns authorizes.
func lookupsOn(store ports.Stores, current func() (*policy.Policy, error)) overrideLookups {
	return overrideLookups{approvals: approval.NewLookup(store, current), breakGlass: breakglass.NewLookup(store, current)}
}

// policyHasOverrides reports whether any approval or break-glass rule
// covers profile, i.e. whether an override could ever apply to it.
func policyHasOverrides(pol *policy.Policy, profile string) bool {
	if _, ok := pol.ApprovalRuleFor(profile); ok {
		return true
	}
	return slices.ContainsFunc(pol.BreakGlass, func(r policy.BreakGlassRule) bool { return r.Covers(profile) })
}

// openOverrideLookups opens the store for the lookups of a run that has no
// store of its own (cli and credential_process modes, server mode without
// tracking), and only when the policy has rules for profile: an offline user
// without a store file is never made to create one. A store that cannot be
// opened costs the overrides only (policy alone decides), with a warning.
func openOverrideLookups(ctx context.Context, stores *runStore, current func() (*policy.Policy, error), profile string, logger *slog.Logger) overrideLookups {
	// A policy that fails to load is refused, and logged, by the gateway.
	if pol, err := current(); err != nil || !policyHasOverrides(pol, profile) {
		return overrideLookups{}
	}
	store, err := stores.create(ctx)
	if err != nil {
		logger.Warn("approvals and break-glass not checked: the store could not be opened", "store", redactedStore(stores.url), "error", err)
		return overrideLookups{}
	}
	return lookupsOn(store, current)
}

// Listing: newest first, through the narrowest index.

var requestStatuses = approval.Statuses

var breakGlassStatuses = breakglass.Statuses

func requestsByStatus(store ports.ApprovalStore, st ports.RequestStatus) listing[ports.ApprovalRequest] {
	return approval.ByStatus(store, st)
}

func breakGlassByStatus(store ports.BreakGlassStore, st ports.BreakGlassStatus) listing[ports.BreakGlassEvent] {
	return breakglass.ByStatus(store, st)
}

// collectNewest pages through each listing until limit records pass keep,
// then merges them newest first (record.CollectNewest).
func collectNewest[T any](ctx context.Context, lists []listing[T], keep func(T) bool, pos func(T) ports.Position, limit int) ([]T, error) {
	return record.CollectNewest(ctx, lists, keep, pos, limit)
}

// writeDetail prints label: value rows, aligned.
func writeDetail(env *Env, rows [][2]string) error {
	for _, r := range rows {
		if _, err := fmt.Fprintf(env.Stdout, "%-16s %s\n", r[0]+":", r[1]); err != nil {
			return err
		}
	}
	return nil
}

// when renders an instant for a detail view: RFC 3339 and how long ago.
func when(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return rfc3339(t) + " (" + ago(now, t) + ")"
}

// warn prints a warning on stderr.
func warn(env *Env, msg string) {
	fmt.Fprintf(env.Stderr, "sentinel: warning: %s\n", msg)
}

// refusal turns a rule's refusal into the message a user reads: the core's
// text, without the trailing error-value names meant for errors.Is.
func refusal(err error) error {
	msg := err.Error()
	for _, suffix := range []string{": " + policy.ErrForbidden.Error(), ": " + breakglass.ErrRateLimited.Error(), ": " + ports.ErrInvalidTransition.Error(),
		": " + ports.ErrAlreadyExists.Error(), ": " + ports.ErrInvalidArgument.Error(), ": " + ports.ErrNotFound.Error()} {
		msg = strings.TrimSuffix(msg, suffix)
	}
	return refusedError{msg: msg, err: err}
}

// refusedError keeps the cause for errors.Is while printing the plain text.
type refusedError struct {
	msg string
	err error
}

func (e refusedError) Error() string { return e.msg }
func (e refusedError) Unwrap() error { return e.err }

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
