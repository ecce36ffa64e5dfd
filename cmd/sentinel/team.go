package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/adapters/brokerhttp"
	"github.com/sentinel-gw/sentinel/ports"
)

// Team mode: with --broker (or SENTINEL_BROKER) a command talks only to the
// broker. It never opens a store, never reads a policy file, and proves who
// runs it with a signed sts:GetCallerIdentity request made with the caller's
// own AWS credentials (--aws-profile, else the SDK's default chain). The
// team_*.go files hold each command's broker path; each command's Run
// dispatches to it first.

// brokerAPI is what the commands use of the broker's client
// (brokerhttp.Client), besides exec --server's SessionIssuer.
type brokerAPI interface {
	WhoAmI(ctx context.Context) (ports.Identity, error)

	OpenSession(ctx context.Context, in ports.OpenSessionInput) (ports.OpenSessionOutput, error)
	Heartbeat(ctx context.Context, sessionID string) (ports.Session, error)
	CloseSession(ctx context.Context, sessionID string) error
	SessionCredentials(ctx context.Context, in ports.SessionCredentialsInput) (ports.Credentials, error)
	OneShot(ctx context.Context, in ports.OneShotInput) (ports.Credentials, error)

	ListSessions(ctx context.Context, in ports.ListSessionsInput) (ports.SessionPage, error)
	ShowSession(ctx context.Context, id string) (ports.Session, error)
	Revoke(ctx context.Context, in ports.RevokeInput) (ports.RevokeOutput, error)

	CreateRequest(ctx context.Context, in ports.RequestInput) (ports.RequestOutput, error)
	DecideRequest(ctx context.Context, in ports.DecideInput) (ports.RequestOutput, error)
	CancelRequest(ctx context.Context, id string) (ports.RequestOutput, error)
	ListRequests(ctx context.Context, in ports.ListRequestsInput) ([]ports.ApprovalRequest, error)
	ShowRequest(ctx context.Context, id string) (ports.ApprovalRequest, error)

	OpenBreakGlass(ctx context.Context, in ports.BreakGlassInput) (ports.BreakGlassOutput, error)
	CloseBreakGlass(ctx context.Context, in ports.CloseBreakGlassInput) (ports.BreakGlassOutput, error)
	ListBreakGlass(ctx context.Context, in ports.ListBreakGlassInput) ([]ports.BreakGlassEvent, error)
	ShowBreakGlass(ctx context.Context, id string) (ports.BreakGlassEvent, error)
}

var _ brokerAPI = (*brokerhttp.Client)(nil)

// team reports whether the command runs in team mode.
func (g *Globals) team() bool { return g.Broker != "" }

// openBroker builds the client for --broker, signing with the caller's own
// AWS credentials.
func openBroker(ctx context.Context, g *Globals, env *Env) (*brokerhttp.Client, error) {
	id, err := brokerhttp.BrokerID(g.Broker)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--broker: %v", err)}
	}
	if g.IdentitySource == "os" {
		return nil, usageError{"--identity-source os cannot be used with --broker: the broker accepts only an AWS identity that STS confirms"}
	}
	signer, err := awscreds.NewBrokerSigner(ctx, awscreds.BrokerSignerConfig{AWSProfile: g.AWSProfile, BrokerID: id, Clock: env.Clock, Getenv: env.Getenv})
	if err != nil {
		return nil, err
	}
	client, err := brokerhttp.NewClient(brokerhttp.ClientConfig{URL: strings.TrimSuffix(g.Broker, "/"), Signer: signer, CAFile: g.BrokerCA})
	if err != nil {
		return nil, usageError{fmt.Sprintf("--broker: %v", err)}
	}
	return client, nil
}

// notInTeamMode refuses a command that has no broker counterpart.
func notInTeamMode(g *Globals, command, instead string) error {
	if !g.team() {
		return nil
	}
	return usageError{fmt.Sprintf("sentinel %s does not work with --broker: %s", command, instead)}
}

// soloOnlyFlags refuses flags given on the command line that mean something
// only in solo mode (a local policy, store or source credentials).
func soloOnlyFlags(given map[string]bool, names ...string) error {
	for _, f := range names {
		if given[f] {
			return usageError{fmt.Sprintf("--%s applies only without --broker: in team mode the broker decides it", f)}
		}
	}
	return nil
}

// printWarnings prints what a broker workflow reports (notifications not sent).
func printWarnings(env *Env, warnings []string) {
	for _, w := range warnings {
		warn(env, w)
	}
}
