package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/sentinel-gw/sentinel/ports"
)

// Exit codes, the same for every command.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Globals are flags every command takes.
type Globals struct {
	Store          string `help:"Session store URL (bolt:///path, redis://host:port, dynamodb://TABLE?region=R)." env:"SENTINEL_STORE" default:"${default_store}"`
	IdentitySource string `help:"How the caller's identity is resolved: sts (GetCallerIdentity) or os (the local OS user, for offline use)." env:"SENTINEL_IDENTITY_SOURCE" enum:"sts,os" default:"sts"`
	AWSProfile     string `name:"aws-profile" help:"AWS profile whose credentials identify you to Sentinel (commands other than exec and credentials)." placeholder:"NAME"`
	LogLevel       string `help:"Diagnostic log level on stderr: debug, info, warn or error." env:"SENTINEL_LOG_LEVEL" enum:"debug,info,warn,error" default:"warn"`
	Debug          bool   `help:"Same as --log-level debug (wins over it)."`
	LogFormat      string `help:"Diagnostic log format on stderr: text or json (one JSON object a line)." env:"SENTINEL_LOG_FORMAT" enum:"text,json" default:"text"`
	Broker         string `help:"Team mode: the broker's URL (https://HOST[:PORT]); every command then talks only to it, never to a store or a policy file." env:"SENTINEL_BROKER" placeholder:"URL"`
	BrokerCA       string `name:"broker-ca" help:"CA certificate (PEM) to trust for the broker, besides the system roots." env:"SENTINEL_BROKER_CA" type:"path" placeholder:"FILE"`
}

// CLI is the whole command tree.
type CLI struct {
	Globals
	ShowVersion versionFlag `name:"version" short:"v" help:"Print the version and exit."`

	Version        VersionCmd        `cmd:"" help:"Print the version."`
	Policy         PolicyCmd         `cmd:"" help:"Validate and evaluate policy files."`
	Exec           ExecCmd           `cmd:"" help:"Run a command with policy-gated AWS credentials."`
	Credentials    CredentialsCmd    `cmd:"" help:"credential_process helper: print credentials as JSON for the AWS SDKs."`
	Login          LoginCmd          `cmd:"" help:"Open the AWS console with policy-gated role credentials (a sign-in URL)."`
	ServerSessions ServerSessionsCmd `cmd:"" name:"server-sessions" help:"List server sessions (default: active, newest first)."`
	ServerSession  ServerSessionCmd  `cmd:"" name:"server-session" help:"Show one server session in full."`
	ServerRevoke   ServerRevokeCmd   `cmd:"" name:"server-revoke" help:"Revoke a server session: its next credential request is refused."`
	Revocations    RevocationsCmd    `cmd:"" help:"Revokes at AWS: sweep the deny policies server-revoke --at-aws wrote."`
	Store          StoreCmd          `cmd:"" help:"Store administration."`
	Serve          ServeCmd          `cmd:"" help:"Run the team broker (HTTPS): the only holder of the store, the policy and the role-assuming identity."`
	Health         HealthCmd         `cmd:"" help:"Probe a health endpoint (the broker's /healthz or /readyz): exit 0 on 200, for container health checks."`
	Completion     CompletionCmd     `cmd:"" help:"Print a shell completion script (bash, zsh, fish)."`
	Man            ManCmd            `cmd:"" help:"Print the man page (roff)."`

	Request         RequestCmd         `cmd:"" help:"Ask a second person for access to a profile."`
	Requests        RequestsCmd        `cmd:"" help:"List approval requests (newest first)."`
	RequestShow     RequestShowCmd     `cmd:"" name:"request-show" help:"Show one approval request in full."`
	Approve         ApproveCmd         `cmd:"" help:"Approve someone else's pending request (approvers only)."`
	Deny            DenyCmd            `cmd:"" help:"Deny a pending request (approvers only)."`
	RequestCancel   RequestCancelCmd   `cmd:"" name:"request-cancel" help:"Cancel a pending or approved request."`
	BreakGlass      BreakGlassCmd      `cmd:"" name:"breakglass" help:"Invoke emergency access to a profile, with a justification."`
	BreakGlassList  BreakGlassListCmd  `cmd:"" name:"breakglass-list" help:"List break-glass events (newest first)."`
	BreakGlassShow  BreakGlassShowCmd  `cmd:"" name:"breakglass-show" help:"Show one break-glass event in full."`
	BreakGlassClose BreakGlassCloseCmd `cmd:"" name:"breakglass-close" help:"Close a break-glass event early."`

	Lock   LockCmd   `cmd:"" help:"Lock a user or profile out: running servers refuse, new sessions cannot start."`
	Unlock UnlockCmd `cmd:"" help:"End a lock early."`
	Locks  LocksCmd  `cmd:"" help:"List locks (default: in force, newest first)."`
}

// PolicyCmd groups the policy subcommands.
type PolicyCmd struct {
	Validate PolicyValidateCmd `cmd:"" help:"Check a policy file; prints lint warnings."`
	Eval     PolicyEvalCmd     `cmd:"" help:"Evaluate a policy for one request and print the decision."`
}

// Env is what commands need from the process, so tests can swap it.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Clock          ports.Clock
}

func newEnv() *Env {
	return &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Clock: ports.SystemClock{}}
}

// usageError marks a misuse detected after parsing (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// badArgument is a usage error (exit code 2) that keeps its cause reachable
// with errors.Is and errors.As.
type badArgument struct{ err error }

func (e badArgument) Error() string { return e.err.Error() }

func (e badArgument) Unwrap() error { return e.err }

// exitCodeError carries an exit code through Run: the child's own, or the
// shell's 126/127 when it could not start (err then says why).
type exitCodeError struct {
	code int
	err  error
}

func (e exitCodeError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

// newParser builds the kong parser for cli.
func newParser(cli *CLI, env *Env) (*kong.Kong, error) {
	return kong.New(cli,
		kong.Name("sentinel"),
		kong.Description("Policy-gated AWS credentials with real-time revocation."),
		kong.UsageOnError(),
		kong.Writers(env.Stdout, env.Stderr),
		kong.Vars{
			"default_store":  defaultStoreURL(env.Getenv),
			"default_policy": defaultPolicyPath(env.Getenv),
			"default_log":    defaultLogPath(env.Getenv),
		},
		kong.Bind(env),
		kong.BindSingletonProvider(func(g *Globals) (*slog.Logger, error) { return newLogger(env.Stderr, *g), nil }),
	)
}

// run parses args, runs the command and returns the exit code. It never exits.
func run(args []string, env *Env) int {
	var cli CLI
	parser, err := newParser(&cli, env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "sentinel: internal error building the CLI: %v\n", err)
		return exitError
	}
	// --help calls Exit(0) in the middle of parsing; note it instead of exiting.
	helped := false
	parser.Exit = func(int) { helped = true }
	if done, code := completeLine(parser, env); done {
		return code
	}
	kctx, err := parser.Parse(args)
	if helped {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "sentinel: %v\nRun 'sentinel --help' for usage.\n", err)
		return exitUsage
	}
	kctx.Bind(&cli.Globals)
	// The run's store: opened by the first command code that asks for it,
	// closed here once Run has returned.
	stores := &runStore{url: cli.Globals.Store, clock: env.Clock, team: cli.Broker != ""}
	defer stores.close()
	kctx.Bind(stores)
	if err := kctx.Run(); err != nil {
		var code exitCodeError
		if errors.As(err, &code) {
			if code.err != nil {
				fmt.Fprintf(env.Stderr, "sentinel: %v\n", code.err)
			}
			return code.code
		}
		fmt.Fprintf(env.Stderr, "sentinel: %v\n", err)
		var usage usageError
		var bad badArgument
		if errors.As(err, &usage) || errors.As(err, &bad) {
			return exitUsage
		}
		return exitError
	}
	return exitOK
}

// newLogger builds the diagnostic logger the global flags ask for: --debug
// or --log-level, in --log-format (kong has already checked both enums).
func newLogger(w io.Writer, g Globals) *slog.Logger {
	level := g.LogLevel
	if g.Debug {
		level = "debug"
	}
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	opts := &slog.HandlerOptions{Level: l}
	if g.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// xdgDir returns $VAR, or $HOME/fallback when VAR is unset or relative.
func xdgDir(getenv func(string) string, variable, fallback string) string {
	if d := getenv(variable); filepath.IsAbs(d) {
		return d
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, fallback)
}

func defaultStoreURL(getenv func(string) string) string {
	return "bolt://" + filepath.Join(xdgDir(getenv, "XDG_DATA_HOME", ".local/share"), "sentinel", "sentinel.db")
}

func defaultPolicyPath(getenv func(string) string) string {
	return filepath.Join(xdgDir(getenv, "XDG_CONFIG_HOME", ".config"), "sentinel", "policy.yaml")
}

func defaultLogPath(getenv func(string) string) string {
	return filepath.Join(xdgDir(getenv, "XDG_STATE_HOME", ".local/state"), "sentinel", "decisions.jsonl")
}
