package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sentinel-gw/sentinel/internal/benchtool"
)

// AWS's documented example keys: nothing reaches AWS (--no-session).
const (
	exampleKeyID  = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	benchProfile  = "bench"
)

// allowAllPolicy allows every request in server mode, so the measured cost
// is the evaluation, not a denial.
const allowAllPolicy = `version: "1"
rules:
  - name: bench-allow-server-mode
    effect: allow
    conditions:
      mode: [server]
    reason: sentinel-bench
`

// childScript hands the endpoint to the bench through a file ($0), written
// whole before it appears, then idles until sentinel stops it.
const childScript = `printf '%s\n%s\n' "$AWS_CONTAINER_CREDENTIALS_FULL_URI" "$AWS_CONTAINER_AUTHORIZATION_TOKEN" > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 3600`

// Time limits for the sentinel processes the bench starts.
const (
	startTimeout   = 30 * time.Second
	stopTimeout    = 15 * time.Second
	commandTimeout = 60 * time.Second
)

var sessionLine = regexp.MustCompile(`session ([0-9a-f]{32})`)

// sandbox is a temporary folder with the AWS config, policy and logs that
// every sentinel process of one run shares.
type sandbox struct {
	sentinel string
	store    string
	dir      string
	policy   string
	env      []string
	seq      atomic.Int64
	// team, when set (-broker), is the broker every server and revoke goes through.
	team *team
}

func newSandbox(ctx context.Context, sentinel, store string) (*sandbox, error) {
	bin, err := filepath.Abs(sentinel)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("no sentinel binary at %s (build it: go build -o bin/sentinel ./cmd/sentinel, or pass -sentinel PATH)", bin)
	}
	dir, err := os.MkdirTemp("", "sentinel-bench-")
	if err != nil {
		return nil, err
	}
	sb := &sandbox{sentinel: bin, store: store, dir: dir, policy: filepath.Join(dir, "policy.yaml")}
	if sb.store == "" {
		sb.store = "bolt://" + filepath.Join(dir, "sessions.db")
	}
	files := map[string]string{
		"config": "[default]\nregion = us-east-1\n\n[profile " + benchProfile + "]\nregion = us-east-1\n",
		// default: for a DynamoDB store's own client (DynamoDB Local takes any key).
		"credentials": "[default]\naws_access_key_id = " + exampleKeyID + "\naws_secret_access_key = " + exampleSecret + "\n\n" +
			"[" + benchProfile + "]\naws_access_key_id = " + exampleKeyID + "\naws_secret_access_key = " + exampleSecret + "\n",
		"policy.yaml": allowAllPolicy,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			sb.close()
			return nil, err
		}
	}
	// The bench's own AWS and SENTINEL variables must not leak into sentinel.
	for _, kv := range os.Environ() {
		// SENTINEL_CPU_PROFILE passes through: profiling the server under load
		// is what it is for (docs/performance.md).
		if !strings.HasPrefix(kv, "AWS_") && (!strings.HasPrefix(kv, "SENTINEL_") || strings.HasPrefix(kv, "SENTINEL_CPU_PROFILE=")) {
			sb.env = append(sb.env, kv)
		}
	}
	sb.env = append(sb.env,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	)
	if _, err := sb.runCommand(ctx, "store", "init"); err != nil {
		sb.close()
		return nil, fmt.Errorf("sentinel store init: %w", err)
	}
	return sb, nil
}

func (sb *sandbox) close() { _ = os.RemoveAll(sb.dir) }

// redactedStore hides a password in the store URL.
func redactedStore(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func (sb *sandbox) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, sb.sentinel, args...)
	cmd.Env = sb.env
	cmd.Dir = sb.dir
	return cmd
}

// runCommand runs one sentinel command against the store and returns its stdout.
func (sb *sandbox) runCommand(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	args = append(args, "--store", sb.store, "--identity-source", "os")
	cmd := sb.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func writeHeader(ctx context.Context, w io.Writer, sb *sandbox, o options) error {
	version, err := sb.runCommand(ctx, "version")
	version = strings.TrimPrefix(strings.TrimSpace(version), "sentinel ")
	if err != nil {
		version = "unknown (" + err.Error() + ")"
	}
	_, err = fmt.Fprintf(w, "sentinel-bench: mode %s, store %s, client %s, %d CPUs (GOMAXPROCS %d), sentinel %s\n",
		o.mode, redactedStore(sb.store), o.client, runtime.NumCPU(), runtime.GOMAXPROCS(0), strings.TrimSpace(version))
	return err
}

// server is one running `sentinel exec --server` and its idle child.
type server struct {
	cmd       *exec.Cmd
	url       string
	token     string
	sessionID string
	// startup is from the process start to the child having the endpoint.
	startup time.Duration
	stderr  lockedBuffer
	exited  chan struct{}
	waitErr error
	stopped sync.Once
}

// startServer starts sentinel exec --server with its own decision log and
// waits until the child has written the endpoint and sentinel named the session.
func (sb *sandbox) startServer(ctx context.Context) (*server, error) {
	return sb.startServerWith(ctx, serverExtras{})
}

// serverExtras adjust one server: more environment (GODEBUG), and a hook
// that sees each output line first and keeps it out of the error buffer
// when it returns true.
type serverExtras struct {
	env    []string
	onLine func(line string) (consumed bool)
	// solo starts a solo server on the store even when the run has a broker.
	solo bool
}

func (sb *sandbox) startServerWith(ctx context.Context, extras serverExtras) (*server, error) {
	n := sb.seq.Add(1)
	endpointFile := filepath.Join(sb.dir, fmt.Sprintf("endpoint-%d", n))
	logFile := filepath.Join(sb.dir, fmt.Sprintf("decisions-%d.jsonl", n))
	// Not CommandContext: the server must get SIGTERM (so it flushes its
	// counts and ends its session), never a bare SIGKILL.
	cmd := exec.Command(sb.sentinel, "exec", "--server", "--profile", benchProfile, "--no-session",
		"--identity-source", "os", "--policy", sb.policy, "--store", sb.store, "--log-file", logFile,
		"--", "sh", "-c", childScript, endpointFile)
	cmd.Env = append(slices.Clip(sb.env), extras.env...)
	if sb.team != nil && !extras.solo {
		// As the user, through the broker: it holds the store and the policy.
		cmd = exec.Command(sb.sentinel, "exec", "--server", "--profile", benchProfile, "--", "sh", "-c", childScript, endpointFile)
		cmd.Env = append(slices.Clip(sb.team.userEnv), extras.env...)
	}
	cmd.Dir = sb.dir
	ownProcessGroup(cmd) // so a kill can take the child too
	s := &server{cmd: cmd, exited: make(chan struct{})}
	stderr, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	sessionFound := make(chan string, 1)
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", sb.sentinel, err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if extras.onLine != nil && extras.onLine(line) {
				continue
			}
			s.stderr.writeLine(line)
			if m := sessionLine.FindStringSubmatch(line); m != nil {
				select {
				case sessionFound <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		<-readDone // Wait closes the pipe; read it to the end first
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for s.url == "" || s.sessionID == "" {
		select {
		case id := <-sessionFound:
			s.sessionID = id
		case <-tick.C:
			if s.url != "" {
				continue
			}
			data, err := os.ReadFile(endpointFile)
			if err != nil {
				continue
			}
			s.startup = time.Since(began)
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) != 2 || lines[0] == "" || lines[1] == "" {
				_ = s.stop()
				return nil, fmt.Errorf("the child got no credential endpoint (%q): is --server on?", data)
			}
			s.url, s.token = lines[0], lines[1]
		case <-s.exited:
			return nil, fmt.Errorf("sentinel exec --server exited (%w) before serving:\n%s", s.waitErr, s.stderr.String())
		case <-deadline.C:
			_ = s.stop()
			return nil, fmt.Errorf("sentinel exec --server not ready after %s:\n%s", startTimeout, s.stderr.String())
		case <-ctx.Done():
			_ = s.stop()
			return nil, ctx.Err()
		}
	}
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM (sentinel passes it to the child, then flushes its
// session and exits) and kills the process group if that takes too long.
func (s *server) stop() error {
	var err error
	s.stopped.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			killProcessGroup(s.cmd.Process)
			<-s.exited
			err = fmt.Errorf("sentinel did not stop within %s of SIGTERM; killed:\n%s", stopTimeout, s.stderr.String())
		}
	})
	return err
}

// revokeResult is one server-revoke run as seen from outside.
type revokeResult struct {
	launched time.Time
	// returned is when its result line arrived, or when it exited if that
	// came first: the earliest instant it can be said to have returned.
	returned time.Time
	stderr   string
}

// revoke runs `sentinel server-revoke ID` as a separate process.
func (sb *sandbox) revoke(ctx context.Context, id string) (revokeResult, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := sb.command(ctx, "server-revoke", id, "--reason", "bench", "--identity-source", "os", "--store", sb.store)
	if sb.team != nil {
		// As the admin, through the broker.
		cmd = sb.command(ctx, "server-revoke", id, "--reason", "bench")
		cmd.Env = sb.team.adminEnv
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return revokeResult{}, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	r := revokeResult{launched: time.Now()}
	if err := cmd.Start(); err != nil {
		return r, err
	}
	var lineAt time.Time
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if lineAt.IsZero() && strings.HasPrefix(sc.Text(), "revoked session") {
			lineAt = time.Now()
		}
		out.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	r.returned = time.Now()
	if !lineAt.IsZero() && lineAt.Before(r.returned) {
		r.returned = lineAt
	}
	r.stderr = strings.TrimSpace(stderr.String())
	if err != nil {
		return r, fmt.Errorf("sentinel server-revoke %s: %w: %s%s", id, err, out.String(), r.stderr)
	}
	if lineAt.IsZero() {
		return r, fmt.Errorf("sentinel server-revoke %s printed no result: %s%s", id, out.String(), r.stderr)
	}
	return r, nil
}

// sessionRecord is the part of `server-sessions --output json` the bench reads.
type sessionRecord struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	RequestCount int64  `json:"request_count"`
}

func (sb *sandbox) sessions(ctx context.Context) (map[string]sessionRecord, error) {
	out, err := sb.runCommand(ctx, "server-sessions", "--status", "all", "--output", "json", "--limit", "1000")
	if err != nil {
		return nil, fmt.Errorf("sentinel server-sessions: %w", err)
	}
	var list []sessionRecord
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("sentinel server-sessions --output json: %w", err)
	}
	byID := make(map[string]sessionRecord, len(list))
	for _, s := range list {
		byID[s.ID] = s
	}
	return byID, nil
}

// lockedBuffer collects a process's output lines for error messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) writeLine(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 64<<10 {
		l.b.WriteString(line + "\n")
	}
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// readPeakRSS is VmHWM of a live process, in bytes.
func readPeakRSS(pid int) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	return benchtool.ParseVmHWM(f)
}
