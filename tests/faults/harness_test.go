package faults

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"

	"github.com/sentinel-gw/sentinel/internal/e2e"
)

// AWS's documented example keys: nothing in these tests reaches AWS.
const (
	exampleKeyID  = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// Bounds for waiting, generous for a loaded 2-core machine.
const (
	commandTimeout = 30 * time.Second
)

// allowAllPolicy allows every request in every mode.
const allowAllPolicy = `version: "1"
rules:
  - name: allow-all
    effect: allow
    reason: fault tests
`

func selfBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	return self
}

// freePort asks the kernel for a free loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// sandbox is one test's private world: HOME, XDG dirs, TMPDIR and AWS files
// in a temp dir and an environment built from scratch, so no AWS_* variable
// of the machine can leak into sentinel or its child.
type sandbox struct {
	t              *testing.T
	dir            string
	env            map[string]string
	awsConfig      string
	awsCredentials string
	policy         string
	decisions      string
	store          string // the --store URL every command gets; "" for the default bbolt file
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	dir := t.TempDir()
	s := &sandbox{
		t:              t,
		dir:            dir,
		awsConfig:      filepath.Join(dir, "aws-config"),
		awsCredentials: filepath.Join(dir, "aws-credentials"),
		policy:         filepath.Join(dir, "policy.yaml"),
		decisions:      filepath.Join(dir, "decisions.jsonl"),
	}
	s.env = testkit.HomeEnv(t, dir)
	s.env["AWS_CONFIG_FILE"] = s.awsConfig
	s.env["AWS_SHARED_CREDENTIALS_FILE"] = s.awsCredentials
	s.env["SENTINEL_IDENTITY_SOURCE"] = "os"
	s.write(s.policy, allowAllPolicy)
	// "dev" serves the example keys unchanged; "dynlocal" signs DynamoDB Local calls.
	s.writeAWS("[profile dev]\nregion = us-east-1\n\n[profile dynlocal]\nregion = us-east-1\n",
		"[dev]\naws_access_key_id = "+exampleKeyID+"\naws_secret_access_key = "+exampleSecret+"\n\n"+
			"[dynlocal]\naws_access_key_id = "+exampleKeyID+"\naws_secret_access_key = "+exampleSecret+"\n")
	return s
}

func (s *sandbox) write(path, content string) {
	s.t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sandbox) writeAWS(config, credentials string) {
	s.t.Helper()
	s.write(s.awsConfig, config)
	s.write(s.awsCredentials, credentials)
}

func (s *sandbox) environ(extra map[string]string) []string {
	base := s.env
	if s.store != "" {
		base = maps.Clone(s.env)
		base["SENTINEL_STORE"] = s.store
	}
	return testkit.Environ(base, extra)
}

// process is a running sentinel in its own process group, so it and its
// child can be killed together. Its output goes to files: a child that
// outlives it must not hold a pipe open, and a refusing server logs a lot.
type process struct {
	t      *testing.T
	args   []string
	cmd    *exec.Cmd
	stdout string
	stderr string
	done   chan struct{}
	// exitedAt is set before done closes.
	exitedAt time.Time
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 4000))
}

// tail keeps the last n bytes of a long log.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

var outputSeq struct {
	sync.Mutex
	n int
}

// start runs the sentinel binary with args in the sandbox.
func (s *sandbox) start(extra map[string]string, args ...string) *process {
	s.t.Helper()
	return s.startWrapped(extra, nil, args...)
}

// startWrapped is start with the sentinel command line run by wrap (a
// command and its arguments that execs the rest), when wrap is set.
func (s *sandbox) startWrapped(extra map[string]string, wrap []string, args ...string) *process {
	s.t.Helper()
	outputSeq.Lock()
	outputSeq.n++
	n := outputSeq.n
	outputSeq.Unlock()
	p := &process{
		t: s.t, args: args, done: make(chan struct{}),
		stdout: filepath.Join(s.dir, fmt.Sprintf("sentinel-%d.out", n)),
		stderr: filepath.Join(s.dir, fmt.Sprintf("sentinel-%d.err", n)),
	}
	stdout, err := os.Create(p.stdout)
	if err != nil {
		s.t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(p.stderr)
	if err != nil {
		s.t.Fatal(err)
	}
	defer stderr.Close()
	argv := append(append(slices.Clone(wrap), e2e.Sentinel(s.t)), args...)
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = s.environ(extra)
	p.cmd.Dir = s.dir
	p.cmd.Stdout, p.cmd.Stderr = stdout, stderr
	e2e.OwnProcessGroup(p.cmd)
	if err := p.cmd.Start(); err != nil {
		s.t.Fatalf("start sentinel %v: %v", args, err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.exitedAt = time.Now()
		close(p.done)
	}()
	s.t.Cleanup(func() {
		p.killGroup()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			s.t.Errorf("sentinel %v did not go away after SIGKILL", args)
		}
	})
	return p
}

// killGroup SIGKILLs the process group (sentinel and its child).
func (p *process) killGroup() {
	e2e.KillProcessGroup(p.cmd.Process)
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) readStderr() string {
	data, _ := os.ReadFile(p.stderr)
	return string(data)
}

// wait waits at most timeout for the process to exit and returns its result.
func (p *process) wait(timeout time.Duration) result {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.killGroup()
		<-p.done
		p.t.Fatalf("sentinel %v did not exit within %s\nstderr:\n%s", p.args, timeout, tail(p.readStderr(), 4000))
	}
	stdout, _ := os.ReadFile(p.stdout)
	r := result{code: p.cmd.ProcessState.ExitCode(), stdout: string(stdout), stderr: p.readStderr()}
	checkNoRaceOrPanic(p.t, p.args, r.stderr)
	return r
}

func checkNoRaceOrPanic(t *testing.T, args []string, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "WARNING: DATA RACE") {
		t.Errorf("data race in sentinel %v:\n%s", args, tail(stderr, 8000))
	}
	if strings.Contains(stderr, "panic:") || (strings.Contains(stderr, "goroutine ") && strings.Contains(stderr, "[running]")) {
		t.Errorf("sentinel %v panicked:\n%s", args, tail(stderr, 8000))
	}
}

// run runs sentinel to completion.
func (s *sandbox) run(extra map[string]string, args ...string) result {
	s.t.Helper()
	return s.start(extra, args...).wait(commandTimeout)
}

// mustRun runs sentinel and fails the test unless it exits 0.
func (s *sandbox) mustRun(args ...string) result {
	s.t.Helper()
	r := s.run(nil, args...)
	if r.code != 0 {
		s.t.Fatalf("sentinel %v: %s", args, r)
	}
	return r
}

// session reads one session through a separate sentinel process.
func (s *sandbox) session(id string) ports.Session {
	s.t.Helper()
	r := s.mustRun("server-session", id, "--output", "json")
	var out ports.Session
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		s.t.Fatalf("server-session output is not a session: %v\n%s", err, r.stdout)
	}
	return out
}

var sessionLine = regexp.MustCompile(`session ([0-9a-f]{32})\b`)

// loadServer is `sentinel exec --server` with the load child.
type loadServer struct {
	name     string
	proc     *process
	records  string
	stopFile string
	session  string
}

// serverOptions shape one load server.
type serverOptions struct {
	name    string
	flags   []string          // exec flags besides the defaults
	env     map[string]string // extra environment for sentinel and the child
	workers int
	pause   time.Duration
	// wrap runs sentinel under another command (see startWrapped).
	wrap []string
}

// startLoadServer starts sentinel exec --server with the load child and
// waits until the server has a session and the child has been served.
func (s *sandbox) startLoadServer(o serverOptions) *loadServer {
	s.t.Helper()
	ls := &loadServer{
		name:     o.name,
		records:  filepath.Join(s.dir, o.name+".requests.jsonl"),
		stopFile: filepath.Join(s.dir, o.name+".stop"),
	}
	env := map[string]string{
		roleEnv:        roleLoad,
		loadOutEnv:     ls.records,
		loadStopEnv:    ls.stopFile,
		loadWorkersEnv: fmt.Sprint(max(o.workers, 1)),
		loadPauseEnv:   max(o.pause, time.Millisecond).String(),
	}
	maps.Copy(env, o.env)
	args := append([]string{"exec", "--server", "--policy", s.policy, "--log-file", s.decisions}, o.flags...)
	args = append(args, "--", selfBinary(s.t))
	ls.proc = s.startWrapped(env, o.wrap, args...)
	s.t.Cleanup(func() { _ = os.WriteFile(ls.stopFile, nil, 0o600) })
	testkit.Eventually(s.t, commandTimeout, o.name+": the session id on stderr", func() bool {
		if ls.proc.exited() {
			s.t.Fatalf("%s: sentinel exited at startup: %s", o.name, ls.proc.wait(time.Second))
		}
		m := sessionLine.FindStringSubmatch(ls.proc.readStderr())
		if m != nil {
			ls.session = m[1]
		}
		return m != nil
	})
	return ls
}

// waitServed waits until n requests that started at or after since have status.
func (ls *loadServer) waitServed(t *testing.T, since time.Time, status, n int, timeout time.Duration) request {
	t.Helper()
	var last request
	testkit.Eventually(t, timeout, fmt.Sprintf("%s: %d request(s) answered %d", ls.name, n, status), func() bool {
		if ls.proc.exited() {
			t.Fatalf("%s: sentinel exited: %s", ls.name, ls.proc.wait(time.Second))
		}
		seen := 0
		for _, r := range ls.requests(t) {
			if r.Status == status && !r.started().Before(since) {
				seen++
				if seen == 1 {
					last = r
				}
			}
		}
		return seen >= n
	})
	return last
}

// askStop tells the child to finish; sentinel exits after it.
func (ls *loadServer) askStop(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(ls.stopFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (ls *loadServer) requests(t *testing.T) []request {
	t.Helper()
	return testkit.ReadJSONLines[request](t, ls.records)
}

// phase is the requests that started in [from, to).
type phase struct {
	name     string
	from, to time.Time
	requests []request
}

func cut(all []request, name string, from, to time.Time) phase {
	p := phase{name: name, from: from, to: to}
	for _, r := range all {
		if s := r.started(); !s.Before(from) && s.Before(to) {
			p.requests = append(p.requests, r)
		}
	}
	return p
}

// counts is responses per HTTP status.
func (p phase) counts() map[int]int {
	c := map[int]int{}
	for _, r := range p.requests {
		c[r.Status]++
	}
	return c
}

func (p phase) maxLatency() time.Duration {
	var m time.Duration
	for _, r := range p.requests {
		m = max(m, r.latency())
	}
	return m
}

// summary is one line to quote: counts per status and the slowest request.
func (p phase) summary() string {
	c := p.counts()
	var parts []string
	for _, st := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%d×%d", c[st], st))
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	return fmt.Sprintf("%-16s %5.1fs  %-28s max %s", p.name, p.to.Sub(p.from).Seconds(), strings.Join(parts, " "),
		p.maxLatency().Round(time.Millisecond))
}

// onlyStatus fails for every request of p not answered with status (and code, when given).
func (p phase) onlyStatus(t *testing.T, server string, status int, code string) {
	t.Helper()
	bad := 0
	for _, r := range p.requests {
		if r.Status == status && (code == "" || r.Code == code) {
			continue
		}
		if bad++; bad <= 3 {
			t.Errorf("%s, %s: request at +%s answered %d %s %q, want %d %s", server, p.name,
				r.started().Sub(p.from).Round(time.Millisecond), r.Status, r.Code, r.Message, status, code)
		}
	}
	if bad > 3 {
		t.Errorf("%s, %s: %d more requests answered otherwise", server, p.name, bad-3)
	}
}

// without is p less the requests skip matches.
func (p phase) without(skip func(request) bool) phase {
	out := p
	out.requests = nil
	for _, r := range p.requests {
		if !skip(r) {
			out.requests = append(out.requests, r)
		}
	}
	return out
}

func (p phase) requireSome(t *testing.T, server string, least int) {
	t.Helper()
	if len(p.requests) < least {
		t.Errorf("%s, %s: %d requests, want at least %d (the load did not run through it)", server, p.name, len(p.requests), least)
	}
}
