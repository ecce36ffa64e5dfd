package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// The broker paths of the session, request and break-glass commands. They
// print exactly what the solo paths print; the broker has checked who may.

// teamCall opens the broker and runs fn with it.
func teamCall(g *Globals, env *Env, fn func(ctx context.Context, b brokerAPI) error) error {
	ctx := context.Background()
	b, err := openBroker(ctx, g, env)
	if err != nil {
		return err
	}
	return fn(ctx, b)
}

// teamListSessions is server-sessions with --broker.
func (c *ServerSessionsCmd) teamList(g *Globals, env *Env) error {
	return teamCall(g, env, func(ctx context.Context, b brokerAPI) error {
		page, err := b.ListSessions(ctx, ports.ListSessionsInput{Status: c.Status, User: c.User, Profile: c.Profile, Since: c.Since, Limit: c.Limit})
		if err != nil {
			return err
		}
		return c.print(env, page.Sessions)
	})
}

// teamRevoke is server-revoke with --broker. The broker reads the store on
// every credential request, so a revoke it has written is in force for
// every replica's next request: there is no server to wait for. At AWS, the
// broker denies with its own IAM access, when asked or when its policy's
// revoke_at_aws says so, and reports each role.
func (c *ServerRevokeCmd) teamRevoke(g *Globals, env *Env) error {
	return teamCall(g, env, func(ctx context.Context, b brokerAPI) error {
		out, err := b.Revoke(ctx, ports.RevokeInput{ID: c.ID, User: c.User, Profile: c.Profile, Reason: c.Reason,
			AtAWS: c.AtAWS, FallbackAllSessions: c.FallbackAllSessions, AllUserSessions: c.AllUserSessions})
		if err != nil {
			return err
		}
		return errors.Join(c.printTeamRevoke(env, out), printDenials(env, out.Denials))
	})
}

// printTeamRevoke prints what the broker revoked, as solo mode does.
func (c *ServerRevokeCmd) printTeamRevoke(env *Env, out ports.RevokeOutput) error {
	if c.ID == "" {
		failed := make([]error, 0, len(out.Failed))
		for _, f := range out.Failed {
			failed = append(failed, errors.New(f))
		}
		return c.printBulk(env, out.Revoked, failed, nil)
	}
	if len(out.Revoked) == 0 {
		return fmt.Errorf("session %s: the broker revoked nothing", c.ID)
	}
	s := out.Revoked[0]
	if out.AlreadyEnded {
		_, err := fmt.Fprintf(env.Stdout, "session %s (user %s, profile %s) had already ended (%s)\n", s.ID, s.User, s.Profile, s.Status)
		return err
	}
	return printRevokedOne(env, s, false)
}

// teamCreate is request with --broker.
func (c *RequestCmd) teamCreate(g *Globals, env *Env) error {
	return teamCall(g, env, func(ctx context.Context, b brokerAPI) error {
		out, err := b.CreateRequest(ctx, ports.RequestInput{Profile: c.Profile, Justification: c.Justification, Duration: c.Duration})
		if err != nil {
			return ruleError(err)
		}
		printWarnings(env, out.Warnings)
		r := out.Request
		auto := r.Status == ports.RequestApproved
		get := func(ctx context.Context, id string) (ports.ApprovalRequest, error) { return b.ShowRequest(ctx, id) }
		if c.Output == "json" {
			if c.Wait && !auto {
				return c.wait(ctx, env, get, r)
			}
			return writeJSON(env.Stdout, r)
		}
		if auto {
			_, err = fmt.Fprintf(env.Stdout, "request %s approved automatically by %s: %s may use %s until %s\n",
				r.ID, r.Approver, r.Requester, r.Profile, rfc3339(r.ExpiresAt))
			return err
		}
		_, err = fmt.Fprintf(env.Stdout, "request %s created: %s asks for %s for %s; pending until %s\nan approver approves it with: sentinel approve %s\n",
			r.ID, r.Requester, r.Profile, policy.FormatDuration(r.Duration), rfc3339(r.ExpiresAt), r.ID[:shortIDLen])
		if err != nil || !c.Wait {
			return err
		}
		return c.wait(ctx, env, get, r)
	})
}

// teamList is requests with --broker.
func (c *RequestsCmd) teamList(g *Globals, env *Env) error {
	return teamCall(g, env, func(ctx context.Context, b brokerAPI) error {
		requests, err := b.ListRequests(ctx, ports.ListRequestsInput{Status: c.Status, Requester: c.Requester, Profile: c.Profile, Limit: c.Limit})
		if err != nil {
			return err
		}
		if c.Output == "json" {
			return writeJSON(env.Stdout, requests)
		}
		return writeRequestTable(env.Stdout, env.Clock.Now(), requests)
	})
}

// teamDecide is approve and deny with --broker (decide checked the id).
func teamDecide(g *Globals, env *Env, id, output, comment string, approve bool, done func(ports.ApprovalRequest) string) error {
	return teamCall(g, env, func(ctx context.Context, b brokerAPI) error {
		out, err := b.DecideRequest(ctx, ports.DecideInput{ID: id, Approve: approve, Comment: comment})
		if err != nil {
			return ruleError(err)
		}
		printWarnings(env, out.Warnings)
		if output == "json" {
			return writeJSON(env.Stdout, out.Request)
		}
		_, err = fmt.Fprintln(env.Stdout, done(out.Request))
		return err
	})
}

// teamCancel is request-cancel with --broker (Run checked the id).
func (c *RequestCancelCmd) teamCancel(g *Globals, env *Env) error {
	return teamCall(g, env, func(ctx context.Context, b brokerAPI) error {
		out, err := b.CancelRequest(ctx, c.ID)
		if err != nil {
			return ruleError(err)
		}
		return c.print(env, out.Request)
	})
}

// teamOpen is breakglass with --broker.
func (c *BreakGlassCmd) teamOpen(g *Globals, env *Env) error {
	return teamCall(g, env, func(ctx context.Context, b brokerAPI) error {
		out, err := b.OpenBreakGlass(ctx, ports.BreakGlassInput{Profile: c.Profile, ReasonCode: c.ReasonCode, Justification: c.Justification, Duration: c.Duration})
		if err != nil {
			return ruleError(err)
		}
		printWarnings(env, out.Warnings)
		return c.print(env, out.Event)
	})
}

// teamClose is breakglass-close with --broker (Run checked the id).
func (c *BreakGlassCloseCmd) teamClose(g *Globals, env *Env) error {
	return teamCall(g, env, func(ctx context.Context, b brokerAPI) error {
		out, err := b.CloseBreakGlass(ctx, ports.CloseBreakGlassInput{ID: c.ID, Reason: c.Reason})
		if err != nil {
			return ruleError(err)
		}
		printWarnings(env, out.Warnings)
		return c.print(env, out.Event)
	})
}

// teamList is breakglass-list with --broker.
func (c *BreakGlassListCmd) teamList(g *Globals, env *Env) error {
	return teamCall(g, env, func(ctx context.Context, b brokerAPI) error {
		events, err := b.ListBreakGlass(ctx, ports.ListBreakGlassInput{Status: c.Status, Invoker: c.Invoker, Profile: c.Profile, Limit: c.Limit})
		if err != nil {
			return err
		}
		if c.Output == "json" {
			return writeJSON(env.Stdout, events)
		}
		return writeBreakGlassTable(env.Stdout, env.Clock.Now(), events)
	})
}

// errNoBrokerLocks is the refusal of the lock commands in team mode.
var errNoBrokerLocks = errors.New("locks are kept in the broker's store, which users cannot reach; an operator runs the lock commands on the broker's host, with its store")
