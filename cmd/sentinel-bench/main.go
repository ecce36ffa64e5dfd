// Command sentinel-bench is the load benchmark for `sentinel exec --server`.
// It starts a real sentinel binary as a separate process, reads the
// credential endpoint its child was given, and drives it over loopback HTTP
// keep-alive, beside a trivial baseline server measured in the same run.
// It prints figures and never judges them: speed targets are read from its
// output, not asserted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/sentinel-gw/sentinel/internal/benchtool"
)

const usageText = `Usage: sentinel-bench [flags]

Load benchmark for 'sentinel exec --server'. It starts the sentinel binary with
a static-key profile (AWS's example keys, --no-session, --identity-source os)
and an allow-all policy, and drives the credential server over loopback HTTP
keep-alive from this separate process. A trivial Go HTTP server returning the
same JSON with no policy and no store (this binary, re-executed as
'sentinel-bench baseline-server') is measured in the same run.

Modes:
  throughput  closed loop: -conns connections send back to back for -duration
              after -warmup, against the baseline and then sentinel; prints
              req/s, p50/p99/p99.9, errors, the sentinel/baseline ratio,
              each server's CPU time per request over its window (from
              /proc: what a loaded machine slows but does not inflate) and
              sentinel's peak RSS (VmHWM of the exec process).
  rate        open loop at -rate req/s (also chosen by giving -rate alone);
              latency runs from each request's scheduled send time, so a
              stall cannot hide the requests it delayed.
  revoke      -rounds rounds: a fresh server, clients requesting continuously
              (4 connections unless -conns is given), then 'sentinel
              server-revoke' as a separate process. Per round: the time from
              the moment the command returned (its result line, or its exit
              if earlier) to the first 403 any client saw (negative when the
              refusal came first), and every 200 whose request was sent after
              that moment (must be 0). Then p50/p99/max over the rounds.
  stress      -clients clients x -requests requests over -servers live
              sessions (one server each), pausing -pace between requests,
              while every -churn one session is revoked and a new one
              started. Reports unexpected errors (anything but a 403 from a
              session whose revoke had begun), 200s sent after their
              session's revoke returned, and, after every server has shut
              down, each session's request_count against the 200s it served.
  soak        open loop at -rate req/s (default 2000) for -duration (default
              60s) over one long-lived session that is never revoked plus
              -servers churned ones (default 2); every -churn (default 5s) the
              oldest churned session is revoked by a separate 'sentinel
              server-revoke', a new one started, and the one revoked the turn
              before stopped. Reports requests, unexpected errors (anything
              but a 403 from a session whose revoke had begun), 200s sent
              after their revoke returned, request_count per session, and the
              long-lived server seen from outside at 10s, every 10s and at the
              end: RSS (VmRSS), peak RSS, threads, open fds, and goroutines
              (the Go runtime lists them on its stderr under
              GODEBUG=schedtrace=1000,scheddetail=1; no hook in sentinel).

  scale       in-process, no sentinel binary: seeds a fresh namespace of
              -store (its own Redis key prefix or DynamoDB tables, dropped
              afterwards) to each of -sizes session records, -active of
              them active and the rest ended, and times, counting the
              store's round trips and reads: server-sessions --status all
              (first page, and the next), server-sessions --status active
              (both with the lapsed-session sweep the CLI runs first), and a
              by-user revoke of -user-active sessions (core's BulkRevoke,
              what server-revoke --user runs). Prints each against the
              first size: a cost that does not grow reads ~1.00x.
  seed        writes -active active sessions (1000 unless given; -user
              names their owner) and -ended ended ones into -store and
              keeps them, for measuring something else against that many
              live sessions.
  broker      team mode: credential requests straight at a broker (sentinel
              serve over loopback HTTPS; POST /v1/sessions/credentials
              through adapters/brokerhttp's client, one connection per
              -conns worker, spread over -sessions sessions opened first and
              heartbeated as live clients would), beside a trivial HTTPS
              handler answering the same bytes with the same certificate;
              closed loop, or open at -rate; -pairs alternating windows of
              each, and the median ratio. Then the broker's peak RSS and,
              on Redis (or DynamoDB Local with -count-dynamodb), the store
              commands per credential request.

  -broker (throughput, rate, revoke): the bench also starts, in process, a
  local STS stand-in and a certificate, then 'sentinel serve' on the store;
  exec --server runs as a user through it (--broker), and the revoke mode's
  server-revoke as an admin through it. Throughput and rate then measure the
  baseline, then -pairs alternating windows of a solo exec --server on the
  same store and of exec --server --broker, and print what the broker adds
  (latency and service time, p50 and p99) per pair and the median.

Store URLs: bolt:///abs/path.db (default: a file in a temporary folder),
redis://host:port, dynamodb://TABLE?region=R&endpoint=URL. 'sentinel store
init' runs first, so a DynamoDB table is created when missing.

Flags:
`

// options are the parsed flags.
type options struct {
	sentinel string
	store    string
	mode     string
	client   benchtool.ClientKind
	conns    int
	connsSet bool
	duration time.Duration
	warmup   time.Duration
	rate     float64
	rounds   int
	clients  int
	requests int
	servers  int
	pace     time.Duration
	churn    time.Duration
	// The scale and seed modes (scale.go).
	sizes      []int
	active     int
	userActive int
	repeat     int
	ended      int
	user       string
	// Team mode (team.go, brokerload.go).
	broker   bool
	sessions int
	pairs    int
	// countDynamo routes the broker to DynamoDB through a counting proxy.
	countDynamo bool
	// set holds the names of the flags given on the command line.
	set map[string]bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("sentinel-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	var client string
	fs.StringVar(&o.sentinel, "sentinel", "bin/sentinel", "path of the sentinel binary to measure")
	fs.StringVar(&o.store, "store", "", "store URL (default: a bbolt file in a temporary folder)")
	fs.StringVar(&o.mode, "mode", "throughput", "throughput, rate, revoke, stress, soak, scale, seed or broker")
	fs.StringVar(&client, "client", string(benchtool.ClientRaw), "HTTP client for both servers: raw (lean HTTP/1.1 over net.Conn) or nethttp (net/http's client)")
	fs.IntVar(&o.conns, "conns", 32, "keep-alive connections (revoke mode: 4 unless given)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured window per server (soak mode: 60s unless given)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up before each measured window")
	fs.Float64Var(&o.rate, "rate", 0, "rate mode: requests per second in total (default 1000; soak mode: 2000)")
	fs.IntVar(&o.rounds, "rounds", 20, "revoke mode: rounds")
	fs.IntVar(&o.clients, "clients", 50, "stress mode: concurrent clients")
	fs.IntVar(&o.requests, "requests", 100, "stress mode: requests per client")
	fs.IntVar(&o.servers, "servers", 5, "stress mode: sessions (servers) live at once (soak mode: churned sessions beside the long-lived one, 2 unless given)")
	fs.DurationVar(&o.pace, "pace", 20*time.Millisecond, "stress mode: pause between one client's requests")
	fs.DurationVar(&o.churn, "churn", 250*time.Millisecond, "stress mode: how often one session is revoked and a new one started (soak mode: 5s unless given)")
	sizes := fs.String("sizes", "1000,10000,100000", "scale mode: session records in the store, one run per count")
	fs.IntVar(&o.active, "active", scaleActive, "scale mode: active sessions across users besides the ended ones; seed mode: active sessions to write (1000 unless given)")
	fs.IntVar(&o.userActive, "user-active", scaleUserActive, "scale mode: the user's active sessions one by-user revoke ends")
	fs.IntVar(&o.repeat, "repeat", scaleRepeat, "scale mode: timed runs per listing (the median is printed)")
	fs.IntVar(&o.ended, "ended", 0, "seed mode: ended sessions to write too")
	fs.StringVar(&o.user, "user", "", "seed mode: the owner of the active sessions (default: spread over 20 users)")
	fs.BoolVar(&o.broker, "broker", false, "throughput, rate and revoke modes: go through a broker (sentinel serve) as a user")
	fs.IntVar(&o.sessions, "sessions", 1, "broker mode: sessions the credential requests are spread over")
	fs.BoolVar(&o.countDynamo, "count-dynamodb", false, "broker mode on a dynamodb:// store: the broker reaches DynamoDB Local through a counting proxy in the bench, to count its calls per credential request (that run's throughput includes the hop)")
	fs.IntVar(&o.pairs, "pairs", 3, "throughput and broker modes: alternating baseline and server windows (the median ratio is printed); throughput and rate with -broker: alternating solo and broker windows (the median of what the broker adds is printed)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.sizes, err = parseSizes(*sizes); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	o.connsSet = o.set["conns"]
	if o.mode == "seed" && !o.set["active"] {
		o.active = scaleUserActive
	}
	o.client = benchtool.ClientKind(client)
	if o.rate > 0 && !o.set["mode"] {
		o.mode = "rate"
	}
	if o.mode == "rate" && o.rate == 0 {
		o.rate = 1000
	}
	if o.mode == "soak" {
		o.soakDefaults()
	}
	return o, o.check()
}

// soakDefaults fills in the soak's own defaults for the flags not given.
func (o *options) soakDefaults() {
	if !o.set["duration"] {
		o.duration = soakDuration
	}
	if o.rate == 0 {
		o.rate = soakRate
	}
	if !o.set["churn"] {
		o.churn = soakChurn
	}
	if !o.set["servers"] {
		o.servers = soakChurned
	}
}

func (o options) check() error {
	switch {
	case !slices.Contains([]string{"throughput", "rate", "revoke", "stress", "soak", "scale", "seed", "broker"}, o.mode):
		return fmt.Errorf("-mode %q: want throughput, rate, revoke, stress, soak, scale, seed or broker", o.mode)
	case o.active < 0 || o.userActive < 1 || o.repeat < 1 || o.ended < 0:
		return errors.New("-active and -ended must not be negative, -user-active and -repeat at least 1")
	case o.broker && (o.mode == "stress" || o.mode == "soak" || o.mode == "scale" || o.mode == "seed"):
		return fmt.Errorf("-broker works with the throughput, rate and revoke modes, not %s", o.mode)
	case o.countDynamo && o.mode != "broker":
		return errors.New("-count-dynamodb works with -mode broker")
	case o.sessions < 1 || o.pairs < 1:
		return errors.New("-sessions and -pairs must be at least 1")
	case o.client != benchtool.ClientRaw && o.client != benchtool.ClientNetHTTP:
		return fmt.Errorf("-client %q: want raw or nethttp", o.client)
	case o.conns < 1:
		return errors.New("-conns must be at least 1")
	case o.duration <= 0 || o.warmup < 0:
		return errors.New("-duration must be positive and -warmup not negative")
	case o.rate < 0:
		return errors.New("-rate must be positive")
	case o.rounds < 1:
		return errors.New("-rounds must be at least 1")
	case o.clients < 1 || o.requests < 1 || o.servers < 1:
		return errors.New("-clients, -requests and -servers must be at least 1")
	case o.pace < 0 || o.churn <= 0:
		return errors.New("-pace must not be negative and -churn must be positive")
	}
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit: 0 done, 1 failed, 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == baselineCommand {
		return baselineMain(args[1:], stdout, stderr)
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sentinel-bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runMode(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "sentinel-bench: %v\n", err)
		return 1
	}
	return 0
}

func runMode(ctx context.Context, o options, stdout io.Writer) error {
	switch o.mode {
	case "scale": // in-process against the store: no sentinel binary
		return runScale(ctx, o, stdout)
	case "seed":
		return runSeed(ctx, o, stdout)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find this binary to start the baseline: %w", err)
	}
	sb, err := newSandbox(ctx, o.sentinel, o.store)
	if err != nil {
		return err
	}
	defer sb.close()
	if err := writeHeader(ctx, stdout, sb, o); err != nil {
		return err
	}
	if o.broker || o.mode == "broker" {
		if sb.team, err = sb.startTeam(ctx, o.countDynamo); err != nil {
			return err
		}
		defer sb.team.stop()
	}
	switch o.mode {
	case "throughput", "rate":
		if sb.team != nil {
			_, err = runTeamLoad(ctx, sb, self, o, stdout)
			break
		}
		_, err = runLoad(ctx, sb, self, o, stdout)
	case "broker":
		_, err = runBroker(ctx, sb, self, o, stdout)
	case "revoke":
		_, err = runRevoke(ctx, sb, o, stdout)
	case "stress":
		_, err = runStress(ctx, sb, o, stdout)
	case "soak":
		_, err = runSoak(ctx, sb, o, stdout)
	}
	return err
}
