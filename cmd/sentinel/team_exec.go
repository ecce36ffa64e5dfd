package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/sentinel-gw/sentinel/adapters/brokerhttp"
	"github.com/sentinel-gw/sentinel/adapters/httpserver"
	"github.com/sentinel-gw/sentinel/adapters/signin"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// execSoloFlags mean something only in solo mode: the broker holds the
// store, the policy, the source credentials and the decision log.
var execSoloFlags = []string{"no-session", "mfa-token", "tracking", "on-store-error", "policy", "log-file"}

// runTeam is exec with --broker: the local ECS server stays (token, Host
// check and all) and forwards every credential request to the broker, one
// round trip each; without --server, one set of credentials in cli mode.
func (c *ExecCmd) runTeam(g *Globals, env *Env, logger *slog.Logger, kctx *kong.Context) error {
	given := givenFlags(kctx)
	if err := soloOnlyFlags(given, execSoloFlags...); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	broker, err := openBroker(ctx, g, env)
	if err != nil {
		return err
	}
	return c.runChild(env, logger, stop, func() string { return teamRegion(c.Region, env.Getenv) }, func() (map[string]string, func(), error) {
		if c.Server {
			return c.startTeamServer(ctx, env, logger, broker)
		}
		creds, err := broker.OneShot(ctx, ports.OneShotInput{Profile: c.Profile, Mode: string(policy.ModeCLI), Duration: c.Duration})
		return credentialVars(creds), func() {}, err
	})
}

// teamRegion is the child's region in team mode: --region, else the
// environment's (the broker's profiles live on the broker, not here).
func teamRegion(flag string, getenv func(string) string) string {
	for _, r := range []string{flag, getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION")} {
		if r != "" {
			return r
		}
	}
	return ""
}

// credentialVars are the variables that put creds in a child's environment.
func credentialVars(creds ports.Credentials) map[string]string {
	vars := map[string]string{
		"AWS_ACCESS_KEY_ID":     creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": creds.SecretAccessKey,
	}
	if creds.SessionToken != "" {
		vars["AWS_SESSION_TOKEN"] = creds.SessionToken
	}
	if !creds.Expires.IsZero() {
		vars["AWS_CREDENTIAL_EXPIRATION"] = creds.Expires.UTC().Format(time.RFC3339)
	}
	return vars
}

// startTeamServer opens the session at the broker, keeps it alive with
// heartbeats, and starts the local credential server that forwards to the
// broker. The returned func closes it all (idempotent).
func (c *ExecCmd) startTeamServer(ctx context.Context, env *Env, logger *slog.Logger, broker *brokerhttp.Client) (map[string]string, func(), error) {
	opened, err := broker.OpenSession(ctx, ports.OpenSessionInput{Profile: c.Profile, Duration: c.ServerDuration, RevocationPoll: c.RevocationPoll})
	if err != nil {
		return nil, nil, err
	}
	sid := opened.Session.ID
	var closers []func()
	finish := sync.OnceFunc(func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	})
	fail := func(err error) (map[string]string, func(), error) { finish(); return nil, nil, err }
	closers = append(closers, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := broker.CloseSession(cctx, sid); err != nil {
			logger.Warn("could not close the session at the broker", "session", sid, "error", err)
		}
	})
	hbCtx, stopHeartbeat := context.WithCancel(context.Background())
	hbDone := make(chan struct{})
	go teamHeartbeat(hbCtx, hbDone, broker, sid, opened.Heartbeat, logger)
	closers = append(closers, func() { stopHeartbeat(); <-hbDone })

	issuer := broker.SessionIssuer(sid, c.ServerDuration)
	if opened.Warning != "" {
		fmt.Fprintf(env.Stderr, "sentinel: warning: %s\nsentinel: the server starts anyway; requests are refused until policy, an approval or break-glass allows them\n", opened.Warning)
	} else if !c.Lazy {
		if _, err := issuer.Issue(ctx, "prefetch"); err != nil {
			return fail(err)
		}
	}
	token, err := httpserver.NewToken()
	if err != nil {
		return fail(err)
	}
	srv, err := httpserver.Start(httpserver.Config{Port: c.ServerPort, Token: token, Logger: logger, Issuer: issuer})
	if err != nil {
		return fail(fmt.Errorf("credential server: %w", err))
	}
	closers = append(closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	fmt.Fprintf(env.Stderr, "sentinel: serving profile %q through the broker as %s; session %s\n", c.Profile, opened.Session.User, sid)
	return map[string]string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.URL(),
		"AWS_CONTAINER_AUTHORIZATION_TOKEN":  token,
		"SENTINEL_SESSION_ID":                sid,
	}, finish, nil
}

// teamHeartbeat renews the session's lease at the broker until ctx ends, or
// the broker says the session has ended (its requests are refused anyway).
func teamHeartbeat(ctx context.Context, done chan<- struct{}, broker brokerAPI, sid string, every time.Duration, logger *slog.Logger) {
	defer close(done)
	if every <= 0 {
		every = 20 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hctx, cancel := context.WithTimeout(ctx, every)
		_, err := broker.Heartbeat(hctx, sid)
		cancel()
		var revoked *gateway.RevokedError
		var ended *gateway.SessionEndedError
		switch {
		case err == nil:
		case errors.As(err, &revoked), errors.As(err, &ended):
			logger.Info("the broker ended the session; its requests are refused", "session", sid, "error", err)
			return
		default:
			logger.Warn("heartbeat to the broker failed; retrying", "session", sid, "error", err)
		}
	}
}

// runTeam is credentials with --broker: one credential_process answer.
func (c *CredentialsCmd) runTeam(g *Globals, env *Env, logger *slog.Logger, kctx *kong.Context) error {
	if err := soloOnlyFlags(givenFlags(kctx), "no-session", "mfa-token", "policy", "log-file"); err != nil {
		return err
	}
	ctx := context.Background()
	broker, err := openBroker(ctx, g, env)
	if err != nil {
		return err
	}
	creds, err := broker.OneShot(ctx, ports.OneShotInput{Profile: c.Profile, Mode: string(policy.ModeCredentialProcess), Duration: c.Duration})
	if err != nil {
		return err
	}
	out := credentialProcessOutput{Version: 1, AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}
	if !creds.Expires.IsZero() {
		out.Expiration = creds.Expires.UTC().Format(time.RFC3339)
	}
	return json.NewEncoder(env.Stdout).Encode(out)
}

// runTeam is login with --broker: the broker decides in console mode and
// assumes the role; this machine trades the credentials for a sign-in URL.
func (c *LoginCmd) runTeam(g *Globals, env *Env, logger *slog.Logger, kctx *kong.Context) error {
	if err := soloOnlyFlags(givenFlags(kctx), "policy", "log-file"); err != nil {
		return err
	}
	ctx := context.Background()
	federation, err := signin.New(signin.Options{Endpoint: env.Getenv(signin.EndpointEnv), Region: teamRegion(c.Region, env.Getenv)})
	if err != nil {
		return badArgument{fmt.Errorf("%s: %w", signin.EndpointEnv, err)}
	}
	destination, err := federation.Destination(c.Destination)
	if err != nil {
		return badArgument{fmt.Errorf("--destination: %w", err)}
	}
	broker, err := openBroker(ctx, g, env)
	if err != nil {
		return err
	}
	creds, err := broker.OneShot(ctx, ports.OneShotInput{Profile: c.Profile, Mode: string(policy.ModeConsole), Duration: c.Duration})
	if err != nil {
		return err
	}
	capped := c.Duration
	if !creds.Expires.IsZero() {
		capped = min(capped, creds.Expires.Sub(env.Clock.Now()).Truncate(time.Second))
	}
	if capped < signin.MinSessionDuration {
		return fmt.Errorf("profile %q: policy caps this session at %s, shorter than the AWS console's shortest session (%s): "+
			"a console session cannot be made that short, so none was made; use sentinel exec --server instead", c.Profile, capped, signin.MinSessionDuration)
	}
	token, err := federation.SigninToken(ctx, creds, capped)
	if err != nil {
		return err
	}
	return c.show(env, federation.LoginURL(loginIssuer, destination, token), capped)
}
