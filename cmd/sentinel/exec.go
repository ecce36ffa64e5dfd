package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/adapters/httpserver"
	"github.com/sentinel-gw/sentinel/adapters/jsonlog"
	"github.com/sentinel-gw/sentinel/adapters/policyfile"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/internal/childproc"
	"github.com/sentinel-gw/sentinel/internal/storeurl"
	"github.com/sentinel-gw/sentinel/ports"
)

// ExecCmd runs a command with credentials from Sentinel.
type ExecCmd struct {
	Profile        string        `help:"AWS profile to serve." env:"AWS_PROFILE" placeholder:"NAME"`
	Server         bool          `short:"s" help:"Serve credentials from a loopback server that checks policy and revocation on every request (recommended)."`
	ServerPort     int           `help:"Port for the credential server (0 picks a free one)." default:"0"`
	ServerDuration time.Duration `help:"Lifetime of each served credential, before policy caps it (server mode)." default:"20m"`
	Duration       time.Duration `help:"Lifetime of the credential set in the child's environment without --server (cli mode), before policy caps it." default:"1h"`
	Lazy           bool          `help:"Skip the startup credential fetch (server mode)."`
	NoSession      bool          `help:"Pass the profile's source credentials through unchanged: no STS session (offline use, STS-less endpoints)."`
	Region         string        `help:"AWS region for the child and for STS (default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's own region)." placeholder:"REGION"`
	MFAToken       string        `help:"One-time MFA code for a profile with mfa_serial (default: mfa_process, else a prompt on the terminal)." placeholder:"CODE"`
	Policy         string        `help:"Policy file." env:"SENTINEL_POLICY" default:"${default_policy}" type:"path"`
	LogFile        string        `help:"Decision log (JSON Lines)." env:"SENTINEL_LOG_FILE" default:"${default_log}" type:"path"`
	Tracking       bool          `help:"Track the server session in the store so it can be listed and revoked." default:"true" negatable:""`
	OnStoreError   string        `help:"When the revocation check cannot reach the store: allow (serve) or deny (refuse)." enum:"allow,deny" default:"allow"`
	Heartbeat      time.Duration `help:"How often the server renews its session lease." default:"20s"`
	Lease          time.Duration `help:"How long a session outlives its last heartbeat before it counts as expired." default:"60s"`
	TermGrace      time.Duration `help:"How long the child gets after SIGTERM before SIGKILL (sentinel then exits 137, 128+9)." default:"10s"`
	RevocationPoll time.Duration `help:"For stores without a change feed (DynamoDB), or when the feed cannot be opened: how often the server re-reads its session (at most 1s); it confirms a revoke at the next poll." default:"50ms"`
	MetricsListen  string        `help:"Serve Prometheus metrics for this session at http://ADDR/metrics (server mode); ADDR is host:port, port 0 picks a free one." placeholder:"ADDR"`
	Command        []string      `arg:"" optional:"" passthrough:"partial" help:"Command and arguments (default: $SHELL); flags before it are Sentinel's." placeholder:"-- CMD ARGS"`
}

// Help shows examples.
func (ExecCmd) Help() string {
	return `The child gets a copy of your AWS config without any credential-bearing
setting (keys, credential_process, sso_*, role_arn, source_profile,
credential_source, mfa_serial, web_identity_token_file, [sso-session]);
region, ca_bundle, endpoint_url, s3 and the rest stay. AWS_PROFILE selects
the served profile's section, the credentials file is empty, and
SENTINEL_PROFILE and SENTINEL_SESSION_ID (tracked server sessions) name the
profile and session for shell prompts.

Examples:
  sentinel exec --server --profile prod -- terraform apply
  sentinel exec --server --profile dev --no-session --identity-source os -- aws sts get-caller-identity`
}

// Run starts the server (in server mode), runs the child and returns its exit code.
func (c *ExecCmd) Run(g *Globals, env *Env, logger *slog.Logger, kctx *kong.Context, stores *runStore) error {
	if err := needProfile(c.Profile); err != nil {
		return err
	}
	if err := c.checkModeFlags(givenFlags(kctx)); err != nil {
		return err
	}
	if g.team() {
		return c.runTeam(g, env, logger, kctx)
	}
	if c.ServerDuration <= 0 {
		return usageError{"--server-duration must be positive"}
	}
	if c.Duration <= 0 {
		return usageError{"--duration must be positive"}
	}
	if c.Server && c.Tracking {
		if _, err := parseStoreURL(g.Store); err != nil {
			return err
		}
	}
	if c.Heartbeat <= 0 || c.Lease <= c.Heartbeat {
		return usageError{"--lease must be longer than --heartbeat (defaults 60s and 20s)"}
	}
	if c.Server && c.ServerPort != 0 && (c.ServerPort < 1024 || c.ServerPort > 65535) {
		return usageError{"--server-port must be 0 (a free port) or 1024-65535"}
	}
	if err := session.CheckPoll(c.RevocationPoll); err != nil {
		return usageError{err.Error()}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile, err := startProfile(env.Getenv)
	if err != nil {
		return err
	}
	defer stopProfile()

	policies, err := policyfile.NewSource(c.Policy)
	if err != nil {
		return err
	}
	provider, err := awscreds.NewProvider(ctx, c.Profile, awscreds.Options{NoSession: c.NoSession, Region: c.Region, MFAToken: c.MFAToken, Clock: env.Clock})
	if err != nil {
		return err
	}
	identity, err := resolveIdentity(ctx, g, stsFrom(provider))
	if err != nil {
		return err
	}
	return c.runChild(env, logger, stop, provider.Region, func() (map[string]string, func(), error) {
		if c.Server {
			return c.startServer(ctx, g, env, logger, stores, policies, provider, identity)
		}
		vars, err := c.cliCredentials(ctx, g, env, logger, stores, policies, provider, identity)
		return vars, func() {}, err
	})
}

// runChild is the part of exec both modes and team mode share: the child's
// AWS config (a copy without credentials), its credential variables from
// credentials (whose finish runs after the child), the region, and the
// child itself, with the signals from stop on. It returns the child's exit
// code as an exitCodeError.
func (c *ExecCmd) runChild(env *Env, logger *slog.Logger, stop func(), region func() string, credentials func() (map[string]string, func(), error)) error {
	command := c.Command
	if len(command) > 0 && command[0] == "--" {
		command = command[1:]
	}
	emptyConfig, cleanup, err := childproc.WriteEmptyConfig()
	if err != nil {
		return err
	}
	defer cleanup()
	configCopy, err := childproc.WriteConfigCopy(filepath.Dir(emptyConfig), childproc.SourceConfigPath(env.Getenv))
	if err != nil {
		fmt.Fprintf(env.Stderr, "sentinel: warning: %v\nsentinel: the child gets an empty AWS config; fix the file to keep its settings (region, ca_bundle, endpoint_url, ...)\n", err)
	}
	childVars, finish, err := credentials()
	if err != nil {
		return err
	}
	defer finish()
	if r := region(); r != "" { // else the child's SDK says none is set
		childVars["AWS_REGION"] = r
		childVars["AWS_DEFAULT_REGION"] = r
	}
	maps.Copy(childVars, configCopy.Vars(c.Profile))
	if childVars["SENTINEL_SESSION_ID"] == "" {
		delete(childVars, "SENTINEL_SESSION_ID") // untracked: no session to name
	}

	childEnv := childproc.ChildEnv(os.Environ(), emptyConfig, childVars)
	path, argv, err := childproc.ResolveCommand(command, childEnv)
	if err != nil {
		return exitCodeError{code: childproc.StartErrorCode(err), err: err}
	}
	stop() // from here on the child gets the signals; childproc forwards them
	code, err := childproc.Run(context.Background(), childproc.Options{
		Path: path, Args: argv, Env: childEnv,
		Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr,
		TermGrace: c.TermGrace, Logger: logger,
	})
	if err != nil {
		return exitCodeError{code: code, err: err}
	}
	if code != 0 {
		return exitCodeError{code: code}
	}
	return nil
}

// serverOnlyFlags mean something only with --server; cliOnlyFlags only without it.
var (
	serverOnlyFlags = []string{"server-port", "server-duration", "lazy", "tracking", "revocation-poll", "heartbeat", "lease", "on-store-error", "metrics-listen"}
	cliOnlyFlags    = []string{"duration"}
)

// checkModeFlags refuses a flag given for the other mode, rather than
// ignore it: given names the flags set on the command line.
func (c *ExecCmd) checkModeFlags(given map[string]bool) error {
	if !c.Server {
		for _, f := range serverOnlyFlags {
			if given[f] {
				if f == "tracking" {
					f = "[no-]tracking" // negatable: either form may have been typed
				}
				return usageError{fmt.Sprintf("--%s applies only with --server: add --server, or drop --%s", f, f)}
			}
		}
		return nil
	}
	for _, f := range cliOnlyFlags {
		if given[f] {
			return usageError{fmt.Sprintf("--%s applies only without --server (cli mode); with --server, use --server-duration", f)}
		}
	}
	return nil
}

// givenFlags names the flags set on the command line (not by a default or
// an environment variable), from the parse kong recorded.
func givenFlags(kctx *kong.Context) map[string]bool {
	given := map[string]bool{}
	if kctx == nil {
		return given
	}
	for _, p := range kctx.Path {
		if p.Flag != nil && !p.Resolved {
			given[p.Flag.Name] = true
		}
	}
	return given
}

// cliCredentials evaluates policy once in cli mode and returns the variables that inject credentials.
func (c *ExecCmd) cliCredentials(ctx context.Context, g *Globals, env *Env, logger *slog.Logger, stores *runStore, policies *policyfile.Source, provider *awscreds.Provider, id ports.Identity) (map[string]string, error) {
	creds, err := oneShotCredentials(ctx, env, oneShot{policies: policies, source: provider, identity: id, profile: c.Profile,
		mode: policy.ModeCLI, duration: c.Duration, logFile: c.LogFile, stores: stores, logger: logger})
	if err != nil {
		return nil, err
	}
	return credentialVars(creds), nil
}

// startServer creates the session, starts the credential server and returns
// the child's container variables and a func that stops it all (idempotent).
func (c *ExecCmd) startServer(ctx context.Context, g *Globals, env *Env, logger *slog.Logger, stores *runStore,
	policies *policyfile.Source, provider *awscreds.Provider, id ports.Identity,
) (map[string]string, func(), error) {
	onStoreError, err := session.ParseStoreErrorPolicy(c.OnStoreError)
	if err != nil {
		return nil, nil, usageError{err.Error()}
	}
	decisions, err := jsonlog.Open(c.LogFile)
	if err != nil {
		return nil, nil, fmt.Errorf("decision log: %w", err)
	}
	var closers []func()
	closers = append(closers, func() { _ = decisions.Close() })
	finish := sync.OnceFunc(func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	})
	fail := func(err error) (map[string]string, func(), error) { finish(); return nil, nil, err }
	// Policy edits are picked up by a file watch (and a periodic stat), not
	// a stat per request; an invalid edit is refused and logged.
	policies.Subscribe(policyfile.LogReloads(logger))
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watchDone := policies.Watch(watchCtx, policyfile.WatchConfig{Logger: logger})
	closers = append(closers, func() { stopWatch(); <-watchDone })

	cfg := gateway.Config{Profile: c.Profile, Identity: id, Duration: c.ServerDuration, OnStoreError: onStoreError}
	deps := gateway.Deps{Policy: policies, Source: provider, Log: decisions, Clock: env.Clock, Logger: logger}
	obs, err := c.startMetrics(env, policies, &deps)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, obs.stop)
	if c.Tracking {
		store, err := stores.create(ctx)
		if err != nil {
			return fail(withNoTrackingHint(err))
		}
		// A lock refuses the start, before any session is recorded.
		stopLocks, err := guardLocks(ctx, cfg, &deps, lockLookupOn(store), env.Clock)
		closers = append(closers, stopLocks)
		if err != nil {
			return fail(err)
		}
		overrides := lookupsOn(store, policies.Current)
		deps.Approvals, deps.BreakGlass = overrides.approvals, overrides.breakGlass
		if n, err := store.ExpireLapsedSessions(ctx, env.Clock.Now()); err != nil {
			logger.Warn("could not expire lapsed sessions", "error", err)
		} else if n > 0 {
			logger.Info("expired lapsed sessions of servers that died", "count", n)
		}
		sid, err := record.NewID()
		if err != nil {
			return fail(err)
		}
		instance, err := record.NewID()
		if err != nil {
			return fail(err)
		}
		now := env.Clock.Now()
		tracker := session.NewTracker(obs.sessions(store), env.Clock, session.TrackerConfig{HeartbeatInterval: c.Heartbeat, Lease: c.Lease}, logger)
		started, err := tracker.Start(ctx, ports.Session{
			ID: sid, User: id.Name, Profile: c.Profile, ServerInstanceID: instance,
			Status: ports.SessionActive, IdentitySource: id.Source, StartedAt: now, LastAccessAt: now,
			RevocationPoll: c.RevocationPoll,
		})
		if err != nil {
			return fail(withNoTrackingHint(fmt.Errorf("could not record the session in %s: %w", redactedStore(g.Store), err)))
		}
		closers = append(closers, func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tracker.Stop(sctx); err != nil {
				logger.Warn("could not mark the session expired", "session", sid, "error", err)
			}
		})
		// The revocation check reads memory the store's feed keeps current,
		// or polls when the store has no feed.
		feed, _ := store.(ports.SessionFeed)
		view := session.NewView(obs.sessions(store), feed, env.Clock, session.ViewConfig{Poll: c.RevocationPoll, Memory: tracker}, logger)
		viewCtx, stopView := context.WithCancel(context.Background())
		viewDone, err := view.Start(viewCtx, started)
		if err != nil {
			stopView()
			return fail(err)
		}
		closers = append(closers, func() { stopView(); <-viewDone })
		cfg.SessionID = sid
		// Policy's session_store compares where the session is tracked.
		if cfg.SessionStore, err = storeurl.IdentityOf(g.Store); err != nil {
			return fail(err)
		}
		deps.Sessions, deps.Tracker, deps.View = store, tracker, view
	}
	if !c.Tracking {
		overrides := openOverrideLookups(ctx, stores, policies.Current, c.Profile, logger)
		deps.Approvals, deps.BreakGlass = overrides.approvals, overrides.breakGlass
		locks := openLockLookup(ctx, stores)
		stopLocks, err := guardLocks(ctx, cfg, &deps, locks, env.Clock)
		closers = append(closers, stopLocks)
		if err != nil {
			return fail(err)
		}
	}
	gw := gateway.New(cfg, deps)

	// Warn, don't refuse, when policy denies right now: an approval or
	// break-glass may allow the child's requests later.
	pol, err := policies.Current()
	if err != nil {
		return fail(err)
	}
	d := pol.Evaluate(policy.Request{Identity: id, Profile: c.Profile, Mode: policy.ModeServer, Time: env.Clock.Now(),
		SessionTracking: c.Tracking, SessionStore: cfg.SessionStore})
	if d.Effect != policy.EffectAllow {
		fmt.Fprintf(env.Stderr, "sentinel: warning: %s\nsentinel: the server starts anyway; requests are refused until policy, an approval or break-glass allows them\n", gateway.Denial(d, c.Profile))
	} else if !c.Lazy {
		if err := gw.Prefetch(ctx); err != nil {
			return fail(err)
		}
	}
	if c.NoSession {
		fmt.Fprintln(env.Stderr, "sentinel: warning: --no-session: serving the profile's source credentials unchanged (no STS session)")
	}

	token, err := httpserver.NewToken()
	if err != nil {
		return fail(err)
	}
	srv, err := httpserver.Start(httpserver.Config{Port: c.ServerPort, Token: token, Logger: logger, Issuer: gw, Wrap: obs.wrap})
	if err != nil {
		return fail(fmt.Errorf("credential server: %w", err))
	}
	// The server stops before the session is marked expired.
	closers = append(closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	if cfg.SessionID != "" {
		fmt.Fprintf(env.Stderr, "sentinel: serving profile %q as %s; session %s\n", c.Profile, id.Name, cfg.SessionID)
	}
	return map[string]string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.URL(),
		"AWS_CONTAINER_AUTHORIZATION_TOKEN":  token,
		"SENTINEL_SESSION_ID":                cfg.SessionID,
	}, finish, nil
}

// resolveIdentity picks the identity source the flags ask for; the STS
// resolver is built only when it is the one used.
func resolveIdentity(ctx context.Context, g *Globals, sts func() (ports.IdentityResolver, error)) (ports.Identity, error) {
	r := awscreds.NewOSIdentityResolver()
	if g.IdentitySource != "os" {
		var err error
		if r, err = sts(); err != nil {
			return ports.Identity{}, err
		}
	}
	id, err := r.Identity(ctx)
	if err != nil {
		if g.IdentitySource != "os" && !errors.Is(err, awscreds.ErrSSOLogin) {
			return id, fmt.Errorf("%w (offline? use --identity-source os)", err)
		}
		return id, err
	}
	if id.Name == "" {
		return id, errors.New("could not determine who you are: the identity has no name")
	}
	return id, nil
}

// stsFrom resolves the caller from the profile's source credentials.
func stsFrom(p *awscreds.Provider) func() (ports.IdentityResolver, error) {
	return func() (ports.IdentityResolver, error) { return p.SourceIdentityResolver(), nil }
}

// needProfile refuses an empty --profile: kong fills it from AWS_PROFILE,
// so it is empty only when neither was given.
func needProfile(profile string) error {
	if profile == "" {
		return usageError{"no profile: pass --profile NAME or set AWS_PROFILE"}
	}
	return nil
}
