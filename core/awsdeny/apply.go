package awsdeny

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Apply revokes s at AWS at now: it writes Plan's policies through p and
// reports each role (or the user) as denied or failed, with the error and
// what to do. A full role (ports.ErrPolicyQuota) gets the whole-role cut-off
// instead only with opts.FallbackAllSessions. It never stops at the first
// failure: every role is tried.
func Apply(ctx context.Context, p ports.InlinePolicies, s ports.Session, opts Options, now time.Time) []ports.AWSDenial {
	writes, err := Plan(s, opts, now)
	if err != nil {
		return []ports.AWSDenial{{SessionID: s.ID, Error: err.Error(), Next: planNext(err)}}
	}
	out := make([]ports.AWSDenial, 0, len(writes))
	for _, w := range writes {
		out = append(out, apply(ctx, p, s.ID, w, opts, now))
	}
	return out
}

func apply(ctx context.Context, p ports.InlinePolicies, id string, w Write, opts Options, now time.Time) ports.AWSDenial {
	d := ports.AWSDenial{SessionID: id, RoleARN: w.RoleARN, User: w.User, Policy: w.Policy, Scope: w.Scope, Until: w.Until}
	put := func(doc string) error {
		if w.User != "" {
			return p.PutUserPolicy(ctx, w.User, w.Policy, doc)
		}
		return p.PutRolePolicy(ctx, w.Role, w.Policy, doc)
	}
	err := put(w.Document)
	if errors.Is(err, ports.ErrPolicyQuota) {
		freed := freeRoom(ctx, p, w, now)
		if len(freed.Deleted) > 0 {
			err = put(w.Document)
		}
		if errors.Is(err, ports.ErrPolicyQuota) && len(freed.Failed) > 0 {
			err = fmt.Errorf("%w (and clearing its expired Sentinel denies failed: %w)", err, errors.Join(freed.Failed...))
		}
	}
	if errors.Is(err, ports.ErrPolicyQuota) && w.User == "" && opts.FallbackAllSessions {
		d.Scope = ports.DenyAllRoleSessions
		err = put(CutoffDocument(now))
	}
	if err != nil {
		d.Error, d.Next = err.Error(), writeNext(w, err, opts)
		return d
	}
	d.Denied = true
	return d
}

// freeRoom deletes the denies on w's role or user whose time has passed.
// The timed sweep finds roles through the sessions revoked lately, so a
// role whose last revokes were of old sessions may still hold expired
// denies: they must not make a revoke fail for want of room.
func freeRoom(ctx context.Context, p ports.InlinePolicies, w Write, now time.Time) SweepResult {
	if w.User != "" {
		return Sweep(ctx, p, nil, []string{w.User}, now)
	}
	return Sweep(ctx, p, []string{w.Role}, nil, now)
}

// Failed reports whether any denial failed: the command then exits non-zero.
func Failed(ds []ports.AWSDenial) bool {
	for _, d := range ds {
		if !d.Denied {
			return true
		}
	}
	return false
}

// Describe is the one line a command prints for d.
func Describe(d ports.AWSDenial) string {
	where := "role " + d.RoleARN
	if d.User != "" {
		where = "IAM user " + d.User
	}
	if !d.Denied {
		return fmt.Sprintf("session %s: %s: NOT denied at AWS: %s; %s", d.SessionID, where, d.Error, d.Next)
	}
	until := d.Until.UTC().Format(time.RFC3339)
	switch d.Scope {
	case ports.DenyAllRoleSessions:
		return fmt.Sprintf("session %s: %s: the role's inline policies were full, so policy %s denies EVERY session of the role issued before now, not only this one (until %s)", d.SessionID, where, d.Policy, until)
	case ports.DenyAllUserSessions:
		return fmt.Sprintf("session %s: %s: policy %s denies EVERY temporary credential of the user issued before now (its GetSessionToken credentials and any other session of the user), not only this one (until %s)", d.SessionID, where, d.Policy, until)
	default:
		return fmt.Sprintf("session %s: %s: denied at AWS by policy %s (kept until %s; IAM applies it within seconds, at most a few minutes)", d.SessionID, where, d.Policy, until)
	}
}

func planNext(err error) string {
	if errors.Is(err, ErrNoRole) {
		return "rerun with --all-user-sessions to deny every temporary credential of the session's IAM user issued before now (it also cuts the user's other temporary sessions); credentials passed through unchanged (long-term keys, SSO) cannot be cut by Sentinel: rotate them"
	}
	return "deny the credentials in IAM yourself"
}

func writeNext(w Write, err error, opts Options) string {
	perm, target := "iam:PutRolePolicy", "role "+w.Role
	if w.User != "" {
		perm, target = "iam:PutUserPolicy", "user "+w.User
	}
	switch {
	case errors.Is(err, ports.ErrPolicyQuota) && w.User != "":
		return "the " + target + " has no room for another inline policy: delete one of its inline policies, then rerun"
	case errors.Is(err, ports.ErrPolicyQuota) && !opts.FallbackAllSessions:
		return "the " + target + " has no room for another inline policy: rerun with --fallback-all-sessions to deny every session of the role issued before now (what the IAM console's Revoke active sessions writes), or free room first (delete an inline policy of the role)"
	case errors.Is(err, ports.ErrPolicyQuota):
		return "the " + target + " has no room even for the cut-off: delete one of its inline policies, then rerun"
	case errors.Is(err, ports.ErrForbidden):
		return "grant the revoker " + perm + " on the " + target + " (docs/revocation.md lists the permissions), then rerun"
	case errors.Is(err, ports.ErrNotFound):
		return "the " + target + " does not exist (deleted, or another account): check the ARN; a deleted role's credentials no longer work"
	default:
		return "rerun the command: it writes the same policy again, which is safe"
	}
}

// SweepResult is what one sweep did.
type SweepResult struct {
	// Deleted lists "role/NAME/POLICY" or "user/NAME/POLICY" for each
	// policy deleted (or found already deleted by another sweep).
	Deleted []string
	// Kept counts our policies whose time has not come.
	Kept   int
	Failed []error
}

// Sweep deletes, on each role and user named, the deny policies whose time
// has passed at now (read from their names; other policies are never
// touched). It is idempotent and safe to run from several places at once: a
// policy another sweep deleted first (ports.ErrNotFound) counts as deleted.
// A role or user that no longer exists has nothing left to sweep.
func Sweep(ctx context.Context, p ports.InlinePolicies, roles, users []string, now time.Time) SweepResult {
	var r SweepResult
	for _, role := range roles {
		r.sweep(ctx, "role", role, p.ListRolePolicies, p.DeleteRolePolicy, now)
	}
	for _, user := range users {
		r.sweep(ctx, "user", user, p.ListUserPolicies, p.DeleteUserPolicy, now)
	}
	return r
}

func (r *SweepResult) sweep(ctx context.Context, kind, name string,
	list func(context.Context, string) ([]string, error), del func(context.Context, string, string) error, now time.Time) {
	names, err := list(ctx, name)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return
	case err != nil:
		r.Failed = append(r.Failed, fmt.Errorf("%s %s: list inline policies: %w", kind, name, err))
		return
	}
	expired := Expired(names, now)
	for _, n := range names {
		if _, _, ok := ParseName(n); ok {
			r.Kept++
		}
	}
	r.Kept -= len(expired)
	for _, policy := range expired {
		if err := del(ctx, name, policy); err != nil && !errors.Is(err, ports.ErrNotFound) {
			r.Failed = append(r.Failed, fmt.Errorf("%s %s: delete %s: %w", kind, name, policy, err))
			continue
		}
		r.Deleted = append(r.Deleted, kind+"/"+name+"/"+policy)
	}
}
