package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/awsiam"
	"github.com/sentinel-gw/sentinel/adapters/policyfile"
	"github.com/sentinel-gw/sentinel/core/awsdeny"
	"github.com/sentinel-gw/sentinel/ports"
)

// RevocationsCmd groups the commands on revokes at AWS.
type RevocationsCmd struct {
	Sweep RevocationsSweepCmd `cmd:"" help:"Delete the deny policies server-revoke --at-aws wrote, once no credential they target can still be valid."`
}

// RevocationsSweepCmd deletes expired deny policies.
type RevocationsSweepCmd struct {
	Role     []string      `help:"Also sweep this role (name or ARN); repeatable. The roles of sessions revoked in the store are always swept." placeholder:"ROLE"`
	IAMUser  []string      `name:"iam-user" help:"Also sweep this IAM user's policies (left by --all-user-sessions); repeatable." placeholder:"USER"`
	Lookback time.Duration `help:"How far back to look in the store for revoked sessions whose roles to sweep." default:"168h"`
}

// Help shows examples.
func (RevocationsSweepCmd) Help() string {
	return `Each deny policy's name ends with the unix time until which it must stay
(SentinelRevoke-<session id>-<time>); the sweep deletes those whose time has
passed and touches no other policy. It is idempotent and safe to run from
several places at once. The team broker runs it on a timer.

Examples:
  sentinel revocations sweep
  sentinel revocations sweep --role Deployer --iam-user alice`
}

// Run sweeps and prints what it deleted.
func (c *RevocationsSweepCmd) Run(g *Globals, env *Env, stores *runStore) error {
	ctx := context.Background()
	roles := make([]string, 0, len(c.Role))
	for _, r := range c.Role {
		if strings.HasPrefix(r, "arn:") {
			name, err := awsdeny.RoleName(r)
			if err != nil {
				return usageError{fmt.Sprintf("--role %s: %v", r, err)}
			}
			r = name
		}
		roles = append(roles, r)
	}
	store, err := stores.open(ctx)
	if err != nil {
		return err
	}
	iam, err := awsiam.Load(ctx, awsiam.Options{Profile: g.AWSProfile})
	if err != nil {
		return err
	}
	r := awsdeny.SweepStore(ctx, store, iam, roles, c.IAMUser, c.Lookback, env.Clock.Now())
	for _, d := range r.Deleted {
		fmt.Fprintf(env.Stdout, "deleted %s\n", d)
	}
	fmt.Fprintf(env.Stdout, "deleted %d deny policies; %d not yet expired kept\n", len(r.Deleted), r.Kept)
	if len(r.Failed) > 0 {
		return fmt.Errorf("%d part(s) of the sweep failed; run it again (it is safe to): %w", len(r.Failed), errors.Join(r.Failed...))
	}
	return nil
}

// awsRevoke is server-revoke's --at-aws part.
type awsRevoke struct {
	on   bool
	opts awsdeny.Options
	// policyErr: the policy could not be read, so its revoke_at_aws
	// default is unknown; reported after the store revoke.
	policyErr error
}

// atAWS decides whether the revoke goes to AWS too: --at-aws, or the
// policy's revoke_at_aws. A missing policy file is no default.
func (c *ServerRevokeCmd) atAWS() (awsRevoke, error) {
	a := awsRevoke{on: c.AtAWS, opts: awsdeny.Options{FallbackAllSessions: c.FallbackAllSessions, AllUserSessions: c.AllUserSessions}}
	if !a.on && c.Policy != "" {
		if _, err := os.Stat(c.Policy); errors.Is(err, fs.ErrNotExist) {
			return a, c.checkAWSFlags(a)
		}
		switch p, err := policyfile.Load(c.Policy); {
		case err != nil:
			a.policyErr = err
		default:
			a.on = p.RevokeAtAWS
		}
	}
	return a, c.checkAWSFlags(a)
}

func (c *ServerRevokeCmd) checkAWSFlags(a awsRevoke) error {
	if !a.on && a.policyErr == nil && (c.FallbackAllSessions || c.AllUserSessions) {
		return usageError{"--fallback-all-sessions and --all-user-sessions only apply with --at-aws (or the policy's revoke_at_aws: true)"}
	}
	return nil
}

// unread is the error for a policy that could not be read: whether it
// asks for revoke_at_aws is unknown. Nil when it was read (or absent).
func (a awsRevoke) unread() error {
	if a.policyErr == nil {
		return nil
	}
	return fmt.Errorf("the policy could not be read, so whether it asks for revoke_at_aws is unknown: rerun with --at-aws, or fix the policy: %w", a.policyErr)
}

// apply denies the revoked sessions at AWS and prints one line per role.
// It returns an error (exit 1) when any role or user was not denied.
func (a awsRevoke) apply(ctx context.Context, g *Globals, env *Env, revoked []ports.Session, restored bool) error {
	if !a.on {
		return a.unread()
	}
	if restored {
		return fmt.Errorf("session %s: no record was in the store, so the roles it assumed are unknown and nothing was denied at AWS: find them in CloudTrail (SourceIdentity ending in the session id) and revoke their active sessions in the IAM console", revoked[0].ID)
	}
	iam, err := awsiam.Load(ctx, awsiam.Options{Profile: g.AWSProfile})
	if err != nil {
		return fmt.Errorf("revoked in the store, but nothing was denied at AWS: %w", err)
	}
	var denials []ports.AWSDenial
	for _, s := range revoked {
		denials = append(denials, awsdeny.Apply(ctx, iam, s, a.opts, env.Clock.Now())...)
	}
	return printDenials(env, denials)
}

// printDenials prints one line per role or user a revoke at AWS denied or
// failed to, and returns an error (exit 1) when any was not denied.
func printDenials(env *Env, denials []ports.AWSDenial) error {
	failed := 0
	for _, d := range denials {
		fmt.Fprintln(env.Stdout, awsdeny.Describe(d))
		if !d.Denied {
			failed++
		}
		if d.Denied && d.User != "" {
			fmt.Fprintf(env.Stdout, "session %s: remove it once it has expired with: sentinel revocations sweep --iam-user %s\n", d.SessionID, d.User)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d deny(s) at AWS failed (see above); the revoke in the store stands", failed, len(denials))
	}
	return nil
}

// alreadyEnded handles a revoke of a session that had already ended
// (revoked, or expired when its server stopped): its credentials may still
// work at AWS, so with --at-aws (set by Run before the revoke) the deny
// still goes ahead on the stored record. Otherwise err stands.
func (c *ServerRevokeCmd) alreadyEnded(ctx context.Context, env *Env, store ports.SessionStore, id string, err error) error {
	if !c.AtAWS || !errors.Is(err, ports.ErrInvalidTransition) {
		return err
	}
	s, gerr := store.GetSession(ctx, id)
	if gerr != nil {
		return errors.Join(err, gerr)
	}
	fmt.Fprintf(env.Stdout, "session %s had already ended (%s); the store is unchanged; denying its credentials at AWS\n", s.ID, s.Status)
	c.revoked = []ports.Session{s}
	return nil
}
