package main

import (
	"context"
	"fmt"
	"github.com/alecthomas/kong"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pkg/browser"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/adapters/policyfile"
	"github.com/sentinel-gw/sentinel/adapters/signin"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// loginIssuer is what the console is told the user came from.
const loginIssuer = "sentinel"

// LoginCmd signs in to the AWS console with policy-gated role credentials.
type LoginCmd struct {
	Profile     string        `help:"AWS profile to sign in with; it must assume a role (role_arn with source_profile)." env:"AWS_PROFILE" placeholder:"NAME"`
	Duration    time.Duration `help:"Length of the console session, before policy caps it as in server mode (15m to 12h)." default:"1h"`
	Destination string        `help:"Console page to land on, as a path (/s3/home); default: the console home of the profile's region." placeholder:"PATH"`
	Stdout      bool          `help:"Print the sign-in URL on stdout instead of opening a browser."`
	Region      string        `help:"AWS region for STS and the console." placeholder:"REGION"`
	Policy      string        `help:"Policy file." env:"SENTINEL_POLICY" default:"${default_policy}" type:"path"`
	LogFile     string        `help:"Decision log (JSON Lines)." env:"SENTINEL_LOG_FILE" default:"${default_log}" type:"path"`

	// open shows the URL in a browser; nil means the system's browser.
	open func(url string) error `kong:"-"`
}

// Help explains the URL's nature.
func (LoginCmd) Help() string {
	return `Policy is evaluated in mode console, and the console session lasts as long as
policy would let a server serve (max_server_duration, approval and break-glass
windows). The sign-in URL is a credential: it is printed only on stdout, never
logged, and works once, within 15 minutes.

Example:
  sentinel login --profile prod --destination /cloudwatch/home`
}

// Run evaluates policy in console mode, assumes the role for the capped
// duration, trades the credentials for a sign-in token and opens (or prints)
// the console URL.
func (c *LoginCmd) Run(g *Globals, env *Env, logger *slog.Logger, kctx *kong.Context, stores *runStore) error {
	if err := needProfile(c.Profile); err != nil {
		return err
	}
	if err := signin.CheckSessionDuration(c.Duration); err != nil {
		return usageError{fmt.Sprintf("--duration %s: the AWS console takes whole seconds from 15m to 12h", c.Duration)}
	}
	if g.team() {
		return c.runTeam(g, env, logger, kctx)
	}
	ctx := context.Background()
	policies, err := policyfile.NewSource(c.Policy)
	if err != nil {
		return err
	}
	provider, err := awscreds.NewProvider(ctx, c.Profile, awscreds.Options{Region: c.Region})
	if err != nil {
		return err
	}
	federation, err := signin.New(signin.Options{Endpoint: env.Getenv(signin.EndpointEnv), Region: provider.Region()})
	if err != nil {
		return badArgument{fmt.Errorf("%s: %w", signin.EndpointEnv, err)}
	}
	destination, err := federation.Destination(c.Destination)
	if err != nil {
		return badArgument{fmt.Errorf("--destination: %w", err)}
	}
	id, err := resolveIdentity(ctx, g, stsFrom(provider))
	if err != nil {
		return err
	}
	source := &roleOnlySource{inner: provider, profile: c.Profile}
	creds, err := oneShotCredentials(ctx, env, oneShot{policies: policies, source: source, identity: id, profile: c.Profile,
		mode: policy.ModeConsole, duration: c.Duration, logFile: c.LogFile, stores: stores, logger: logger})
	if err != nil {
		return err
	}
	// The gateway asked the source for exactly the capped duration.
	capped := source.asked().Truncate(time.Second)
	if capped < signin.MinSessionDuration {
		return fmt.Errorf("profile %q: policy caps this session at %s, shorter than the AWS console's shortest session (%s): "+
			"a console session cannot be made that short, so none was made; use sentinel exec --server instead", c.Profile, capped, signin.MinSessionDuration)
	}
	token, err := federation.SigninToken(ctx, creds, capped)
	if err != nil {
		return err
	}
	loginURL := federation.LoginURL(loginIssuer, destination, token)
	return c.show(env, loginURL, capped)
}

// show opens loginURL, or prints it on stdout with --stdout or when no
// browser can be opened. The URL never goes to stderr or the log.
func (c *LoginCmd) show(env *Env, loginURL string, session time.Duration) error {
	if c.Stdout {
		_, err := fmt.Fprintln(env.Stdout, loginURL)
		return err
	}
	open := c.open
	if open == nil {
		open = openBrowser
	}
	if err := open(loginURL); err != nil {
		reason := strings.ReplaceAll(err.Error(), loginURL, "[sign-in URL]")
		fmt.Fprintf(env.Stderr, "could not open a browser (%s): the sign-in URL is on stdout; open it within 15 minutes and share it with no one\n", reason)
		_, err := fmt.Fprintln(env.Stdout, loginURL)
		return err
	}
	fmt.Fprintf(env.Stderr, "opened the AWS console in your browser (profile %s, session %s)\n", c.Profile, session)
	return nil
}

var browserMu sync.Mutex

// openBrowser opens url with the system's opener, whose own output is
// dropped: it could echo the URL.
func openBrowser(url string) error {
	browserMu.Lock()
	defer browserMu.Unlock()
	browser.Stdout, browser.Stderr = io.Discard, io.Discard
	return browser.OpenURL(url)
}

// roleOnlySource passes the gateway's request to the profile's provider,
// remembers the (capped) duration asked for, and refuses credentials that
// did not come from AssumeRole: the federation endpoint takes SessionDuration
// only for role sessions, and long-lived IAM user keys would need
// GetFederationToken, which Sentinel does not call.
type roleOnlySource struct {
	inner   ports.CredentialProvider
	profile string

	mu       sync.Mutex
	duration time.Duration
}

func (s *roleOnlySource) Credentials(ctx context.Context, req ports.CredentialRequest) (ports.Credentials, error) {
	s.mu.Lock()
	s.duration = req.Duration
	s.mu.Unlock()
	creds, err := s.inner.Credentials(ctx, req)
	if err != nil {
		return ports.Credentials{}, err
	}
	if creds.Origin.RoleARN == "" {
		return ports.Credentials{}, fmt.Errorf("profile %q does not assume a role, and the console sign-in needs role credentials: "+
			"long-lived IAM user keys (and SSO, credential_process or --no-session credentials) are not federated; "+
			"add role_arn and source_profile to the profile: %w", s.profile, ports.ErrInvalidArgument)
	}
	return creds, nil
}

func (s *roleOnlySource) asked() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.duration
}
