package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/adapters/awsiam"
	"github.com/sentinel-gw/sentinel/adapters/brokerhttp"
	"github.com/sentinel-gw/sentinel/adapters/jsonlog"
	"github.com/sentinel-gw/sentinel/adapters/metrics"
	"github.com/sentinel-gw/sentinel/adapters/policyfile"
	"github.com/sentinel-gw/sentinel/core/awsdeny"
	"github.com/sentinel-gw/sentinel/core/broker"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/internal/storeurl"
	"github.com/sentinel-gw/sentinel/ports"
)

// ServeCmd runs the team broker: an HTTPS service that alone holds the
// store, the policy and the AWS identity the target roles trust.
type ServeCmd struct {
	Listen          string        `help:"Address to listen on (host:port). Plain HTTP (no --tls-cert) is allowed only on a loopback address." required:"" placeholder:"ADDR"`
	Policy          string        `help:"Policy file; reloaded when it changes (an invalid new policy is refused and the old one stays)." env:"SENTINEL_POLICY" default:"${default_policy}" type:"path"`
	TLSCert         string        `name:"tls-cert" help:"TLS certificate (PEM) for the listener." type:"path" placeholder:"FILE"`
	TLSKey          string        `name:"tls-key" help:"TLS private key (PEM) for the listener." type:"path" placeholder:"FILE"`
	BrokerID        string        `name:"broker-id" help:"The name callers sign into X-Sentinel-Broker: the host name of the broker's URL as clients reach it (default: the host of --listen)." env:"SENTINEL_BROKER_ID" placeholder:"ID"`
	LogFile         string        `help:"Decision log (JSON Lines): - for stdout, or a file." env:"SENTINEL_LOG_FILE" default:"-"`
	MetricsListen   string        `help:"Serve Prometheus metrics at /metrics on this separate address." placeholder:"ADDR"`
	ServerDuration  time.Duration `help:"Lifetime of each served credential, before policy caps it." default:"20m"`
	Heartbeat       time.Duration `help:"How often clients renew their session lease." default:"20s"`
	Lease           time.Duration `help:"How long a session outlives its last heartbeat before it counts as expired." default:"60s"`
	ShutdownTimeout time.Duration `help:"How long a shutdown waits for in-flight requests." default:"20s"`
	IAMProfile      string        `name:"iam-profile" help:"AWS profile whose credentials write and sweep the deny policies of revokes at AWS (default: the broker's own identity, the SDK's chain)." placeholder:"NAME"`
	SweepInterval   time.Duration `help:"How often the broker sweeps: the expired deny policies of revokes at AWS (revocations sweep) and, with --retention, the records retired longer ago (store sweep); 0 turns both off." default:"1h"`
	Retention       time.Duration `help:"Delete sessions, requests and break-glass events that ended longer ago than this (at least 1h; 0 keeps them all). The decision log keeps the audit trail." default:"0" placeholder:"DURATION"`
	Archive         string        `help:"With --retention: append every record deleted, whole, as one JSON line to this file first." type:"path" placeholder:"FILE"`
}

// Help shows an example.
func (ServeCmd) Help() string {
	return `Clients prove their AWS identity with a signed sts:GetCallerIdentity
request and name only a profile; the broker's own AWS config maps each
profile to the role it assumes. Users need no store access and no policy.

Example:
  sentinel serve --listen :8443 --tls-cert cert.pem --tls-key key.pem \
    --store dynamodb://sentinel?region=eu-west-1 --policy /etc/sentinel/policy.yaml`
}

// Run serves until SIGINT or SIGTERM, then drains in-flight requests
// (bounded by --shutdown-timeout).
func (c *ServeCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	if g.team() {
		return usageError{"sentinel serve is the broker: drop --broker (and SENTINEL_BROKER)"}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return usageError{"give both --tls-cert and --tls-key, or neither (plain HTTP, loopback only)"}
	}
	if c.ServerDuration <= 0 || c.ShutdownTimeout <= 0 {
		return usageError{"--server-duration and --shutdown-timeout must be positive"}
	}
	if c.Heartbeat <= 0 || c.Lease <= c.Heartbeat {
		return usageError{"--lease must be longer than --heartbeat (defaults 60s and 20s)"}
	}
	if c.Retention != 0 && c.Retention < minRetention {
		return usageError{fmt.Sprintf("--retention must be 0 (keep everything) or at least %s", minRetention)}
	}
	if c.Archive != "" && c.Retention == 0 {
		return usageError{"--archive applies only with --retention"}
	}
	id, err := c.brokerID()
	if err != nil {
		return err
	}
	storeID, err := storeurl.IdentityOf(g.Store)
	if err != nil {
		return err
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
	// An edit is reloaded behind the validation gate; each attempt is logged.
	policies.Subscribe(policyfile.LogReloads(logger))
	store, err := stores.create(ctx)
	if err != nil {
		return fmt.Errorf("the broker's store: %w", err)
	}
	decisions, err := c.decisionLog(env)
	if err != nil {
		return err
	}
	defer func() { _ = decisions.Close() }()
	archive, err := c.openArchive()
	if err != nil {
		return err
	}
	defer archive.close()
	var log ports.DecisionLog = decisions
	var m *metrics.Metrics
	if c.MetricsListen != "" {
		var done <-chan struct{}
		if m, done, err = serveMetrics(ctx, env, c.MetricsListen, policies); err != nil {
			return err
		}
		defer func() { <-done }()
		log = m.DecisionLog(log)
		store = m.Stores(store) // store latency and errors
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watchDone := policies.Watch(watchCtx, policyfile.WatchConfig{Logger: logger})
	defer func() { stopWatch(); <-watchDone }()

	iam, err := awsiam.Load(ctx, awsiam.Options{Profile: c.IAMProfile})
	if err != nil {
		return fmt.Errorf("the broker's IAM access (for revokes at AWS; --iam-profile): %w", err)
	}
	svc, err := broker.New(broker.Deps{
		Stores: store, Policy: policies, Sources: newProfileSources(env.Clock).get, Log: log, InlinePolicies: iam,
		Notifier: func(pol *policy.Policy, l *slog.Logger) (ports.Notifier, error) { return newNotifier(pol, env, l) },
		Clock:    env.Clock, Logger: logger, StoreIdentity: storeID,
		Heartbeat: c.Heartbeat, Lease: c.Lease, Duration: c.ServerDuration,
	})
	if err != nil {
		return err
	}
	endpoint, _ := awscreds.STSEndpoint(env.Getenv, "")
	verifier, err := awscreds.NewCallerVerifier(awscreds.VerifierConfig{BrokerID: id, STSEndpoint: endpoint, Clock: env.Clock})
	if err != nil {
		return usageError{fmt.Sprintf("AWS_ENDPOINT_URL_STS: %v", err)}
	}
	handler, err := brokerhttp.NewHandler(brokerhttp.Config{Service: broker.NewAudited(svc, log, env.Clock, logger), Verifier: verifier, Logger: logger, Clock: env.Clock})
	if err != nil {
		return err
	}
	if m != nil {
		handler = m.InstrumentPaths(handler, brokerhttp.PathSessionCredentials, brokerhttp.PathOneShot)
	}
	srv, err := brokerhttp.Start(brokerhttp.ServerConfig{Listen: c.Listen, TLSCert: c.TLSCert, TLSKey: c.TLSKey,
		AllowPlainLoopback: true, Handler: handler, Logger: logger})
	if err != nil {
		return err
	}
	if c.TLSCert == "" {
		fmt.Fprintf(env.Stderr, "sentinel: WARNING: serving plain HTTP on %s: for tests and local trials only; give --tls-cert and --tls-key for anything else\n", c.Listen)
	}
	bgCtx, stopBackground := context.WithCancel(context.Background())
	bgDone := c.background(bgCtx, timers{store: store, iam: iam, policies: policies, archive: archive, clock: env.Clock, logger: logger, metrics: m})
	defer func() { stopBackground(); <-bgDone }()
	fmt.Fprintf(env.Stderr, "sentinel: broker listening on %s (broker id %s, store %s, STS %s)\n", srv.URL(), id, redactedStore(g.Store), endpoint)
	<-ctx.Done()
	stop()
	fmt.Fprintf(env.Stderr, "sentinel: shutting down: draining requests for up to %s\n", c.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// timers is what the broker's background work uses.
type timers struct {
	store    ports.Stores
	iam      ports.InlinePolicies
	policies *policyfile.Source
	archive  *archiveFile
	clock    ports.Clock
	logger   *slog.Logger
	metrics  *metrics.Metrics
}

// background runs the broker's timers until ctx ends: sessions whose
// clients stopped heartbeating are stored as expired once a lease, the
// active-session gauge is refreshed, and every --sweep-interval the deny
// policies of revokes at AWS whose time has passed are deleted and, with
// --retention, the records retired longer ago. Every replica runs them;
// each step is idempotent and safe to run at once.
func (c *ServeCmd) background(ctx context.Context, tm timers) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(c.Lease)
		defer t.Stop()
		var lastSweep time.Time
		for {
			if now := tm.clock.Now(); c.SweepInterval > 0 && now.Sub(lastSweep) >= c.SweepInterval {
				lastSweep = now
				c.sweep(ctx, tm, now)
			}
			if n, err := tm.store.ExpireLapsedSessions(ctx, tm.clock.Now()); err != nil && ctx.Err() == nil {
				tm.logger.Warn("could not expire lapsed sessions", "error", err)
			} else if n > 0 {
				tm.logger.Info("expired sessions whose clients stopped heartbeating", "count", n)
			}
			if tm.metrics != nil {
				if n, err := countActive(ctx, tm.store); err == nil {
					tm.metrics.SetActiveSessions(n)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return done
}

// sweep is one round of the broker's sweeps.
func (c *ServeCmd) sweep(ctx context.Context, tm timers, now time.Time) {
	r := awsdeny.SweepStore(ctx, tm.store, tm.iam, nil, nil, awsdeny.DefaultLookback, now)
	if len(r.Deleted) > 0 || len(r.Failed) > 0 {
		tm.logger.Info("swept the deny policies of revokes at AWS", "deleted", len(r.Deleted), "kept", r.Kept, "failed", len(r.Failed))
	}
	for _, err := range r.Failed {
		tm.logger.Warn("sweep of a deny policy failed; the next sweep retries", "error", err)
	}
	if c.Retention == 0 {
		return
	}
	pol, err := tm.policies.Current()
	if err != nil {
		tm.logger.Warn("retention sweep skipped: the policy (whose break-glass rules say how far back events count) is not loaded", "error", err)
		return
	}
	got, err := sweepRetired(ctx, tm.store, tm.clock, tm.logger, c.Retention, pol, tm.archive.writer())
	if serr := tm.archive.sync(); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		tm.logger.Warn("retention sweep failed; the next sweep retries", "error", err)
	}
	if got.Sessions+got.Requests+got.BreakGlass > 0 {
		tm.logger.Info("deleted retired records", "sessions", got.Sessions, "requests", got.Requests, "breakglass", got.BreakGlass, "retention", c.Retention.String())
	}
}

// archiveFile is --archive, open for appending; nil when not given.
type archiveFile struct{ f *os.File }

func (c *ServeCmd) openArchive() (*archiveFile, error) {
	if c.Archive == "" {
		return nil, nil
	}
	f, err := os.OpenFile(c.Archive, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--archive: %w", err)
	}
	return &archiveFile{f: f}, nil
}

// writer is where retired records go: nil (an untyped nil) without an archive.
func (a *archiveFile) writer() io.Writer {
	if a == nil {
		return nil
	}
	return a.f
}

func (a *archiveFile) sync() error {
	if a == nil {
		return nil
	}
	if err := a.f.Sync(); err != nil {
		return fmt.Errorf("sync the archive: %w", err)
	}
	return nil
}

func (a *archiveFile) close() {
	if a != nil {
		_ = a.f.Close()
	}
}

// countActive counts the active sessions, a page at a time.
func countActive(ctx context.Context, store ports.SessionStore) (int, error) {
	n, cursor := 0, ""
	for {
		page, err := store.ListSessionsByStatus(ctx, ports.SessionActive, ports.Page{Limit: ports.MaxPageLimit, Cursor: cursor})
		if err != nil {
			return n, err
		}
		n += len(page.Sessions)
		if page.Next == "" {
			return n, nil
		}
		cursor = page.Next
	}
}

// brokerID is --broker-id, or the host of --listen when it names one.
func (c *ServeCmd) brokerID() (string, error) {
	if c.BrokerID != "" {
		return strings.ToLower(c.BrokerID), nil
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return "", usageError{fmt.Sprintf("--listen %q: want host:port, e.g. :8443 or 127.0.0.1:8443", c.Listen)}
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return "", usageError{"--broker-id is required when --listen names no host: give the host name clients put in --broker (e.g. sentinel.example.com)"}
	}
	return strings.ToLower(host), nil
}

// decisionLog is --log-file: stdout for -, else the file.
func (c *ServeCmd) decisionLog(env *Env) (*jsonlog.Log, error) {
	if c.LogFile == "-" {
		return jsonlog.New(env.Stdout), nil
	}
	l, err := jsonlog.Open(c.LogFile)
	if err != nil {
		return nil, fmt.Errorf("decision log: %w", err)
	}
	return l, nil
}

// profileSources are the broker's own AWS profiles, each loaded once.
type profileSources struct {
	clock ports.Clock

	mu     sync.Mutex
	loaded map[string]*awscreds.Provider
}

func newProfileSources(clock ports.Clock) *profileSources {
	return &profileSources{clock: clock, loaded: map[string]*awscreds.Provider{}}
}

// get returns the provider of profile, loading it on first use. A profile
// that fails to load is not kept: a fixed config works without a restart.
func (p *profileSources) get(profile string) (ports.CredentialProvider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr, ok := p.loaded[profile]; ok {
		return pr, nil
	}
	pr, err := awscreds.NewProvider(context.Background(), profile, awscreds.Options{Clock: p.clock})
	if err != nil {
		return nil, err
	}
	p.loaded[profile] = pr
	return pr, nil
}
