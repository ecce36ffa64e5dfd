package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/alecthomas/kong"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/adapters/jsonlog"
	"github.com/sentinel-gw/sentinel/adapters/policyfile"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// CredentialsCmd is the credential_process helper.
type CredentialsCmd struct {
	Profile   string        `help:"AWS profile to serve. Name it in credential_process: there AWS_PROFILE may be the gated profile itself." env:"AWS_PROFILE" placeholder:"NAME"`
	Duration  time.Duration `help:"Lifetime of the credential, before policy caps it." default:"1h"`
	NoSession bool          `help:"Pass the profile's source credentials through unchanged (no STS session)."`
	Region    string        `help:"AWS region for STS (default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's own region)." placeholder:"REGION"`
	MFAToken  string        `help:"One-time MFA code for a profile with mfa_serial (default: mfa_process, else a prompt on the terminal)." placeholder:"CODE"`
	Policy    string        `help:"Policy file." env:"SENTINEL_POLICY" default:"${default_policy}" type:"path"`
	LogFile   string        `help:"Decision log (JSON Lines)." env:"SENTINEL_LOG_FILE" default:"${default_log}" type:"path"`
}

// Help shows an example.
func (CredentialsCmd) Help() string {
	return `Example, in ~/.aws/config:
  [profile prod-gated]
  credential_process = sentinel credentials --profile prod`
}

// credentialProcessOutput is the shape the AWS SDKs read from credential_process.
type credentialProcessOutput struct {
	Version         int    `json:"Version"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken,omitempty"`
	Expiration      string `json:"Expiration,omitempty"`
}

// Run evaluates policy in credential_process mode and prints the credentials.
func (c *CredentialsCmd) Run(g *Globals, env *Env, logger *slog.Logger, kctx *kong.Context, stores *runStore) error {
	if err := needProfile(c.Profile); err != nil {
		return err
	}
	if c.Duration <= 0 {
		return usageError{"--duration must be positive"}
	}
	if g.team() {
		return c.runTeam(g, env, logger, kctx)
	}
	ctx := context.Background()
	policies, err := policyfile.NewSource(c.Policy)
	if err != nil {
		return err
	}
	provider, err := awscreds.NewProvider(ctx, c.Profile, awscreds.Options{NoSession: c.NoSession, Region: c.Region, MFAToken: c.MFAToken, Clock: env.Clock})
	if err != nil {
		return err
	}
	id, err := resolveIdentity(ctx, g, stsFrom(provider))
	if err != nil {
		return err
	}
	creds, err := oneShotCredentials(ctx, env, oneShot{policies: policies, source: provider, identity: id, profile: c.Profile,
		mode: policy.ModeCredentialProcess, duration: c.Duration, logFile: c.LogFile, stores: stores, logger: logger})
	if err != nil {
		return err
	}
	out := credentialProcessOutput{Version: 1, AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}
	if !creds.Expires.IsZero() {
		out.Expiration = creds.Expires.UTC().Format(time.RFC3339)
	}
	return json.NewEncoder(env.Stdout).Encode(out)
}

type oneShot struct {
	policies *policyfile.Source
	source   ports.CredentialProvider
	identity ports.Identity
	profile  string
	mode     policy.Mode
	duration time.Duration
	logFile  string
	// stores is the run's store, opened for the lock check, and created only
	// when the policy has approval or break-glass rules for profile.
	stores *runStore
	logger *slog.Logger
}

// oneShotCredentials runs the gateway pipeline once, without a session, for
// the cli and credential_process modes.
func oneShotCredentials(ctx context.Context, env *Env, o oneShot) (ports.Credentials, error) {
	decisions, err := jsonlog.Open(o.logFile)
	if err != nil {
		return ports.Credentials{}, fmt.Errorf("decision log: %w", err)
	}
	defer func() { _ = decisions.Close() }()
	overrides := openOverrideLookups(ctx, o.stores, o.policies.Current, o.profile, o.logger)
	locks := openLockLookup(ctx, o.stores)
	return gateway.IssueOnce(ctx,
		gateway.Config{Mode: o.mode, Profile: o.profile, Identity: o.identity, Duration: o.duration},
		gateway.Deps{Policy: o.policies, Source: o.source, Log: decisions, Clock: env.Clock, Logger: o.logger,
			Approvals: overrides.approvals, BreakGlass: overrides.breakGlass, Locks: locks},
	)
}
