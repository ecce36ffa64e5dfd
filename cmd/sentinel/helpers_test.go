package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
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

// Bounds for waiting on processes, generous for a loaded 2-core machine.
const (
	commandTimeout = 30 * time.Second
	pollInterval   = 50 * time.Millisecond
)

// childCommand is the program that makes sentinel's child this test binary.
func childCommand(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	return self
}

// sandbox is one test's private world: HOME, XDG dirs, TMPDIR and AWS files in
// a temp dir, and an environment built from scratch, so no AWS_* variable of
// the machine (keys, profile, region) can leak into sentinel or its child.
type sandbox struct {
	t              *testing.T
	dir            string
	env            map[string]string
	awsConfig      string
	awsCredentials string
	policy         string
	decisions      string
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
	s.writeAWS("", "")
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

// staticProfile writes a profile with the example static keys.
func (s *sandbox) staticProfile(name string) {
	s.t.Helper()
	s.writeAWS(
		fmt.Sprintf("[profile %s]\nregion = us-east-1\n", name),
		fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", name, exampleKeyID, exampleSecret),
	)
}

// roleProfile writes profile name assuming roleARN with the example static
// keys of profile base as its source (STS: point AWS_ENDPOINT_URL_STS at a
// fakests that knows exampleKeyID).
func (s *sandbox) roleProfile(name, roleARN string) {
	s.t.Helper()
	s.writeAWS(
		"[profile "+name+"]\nrole_arn = "+roleARN+"\nsource_profile = base\nregion = us-east-1\n\n[profile base]\nregion = us-east-1\n",
		"[base]\naws_access_key_id = "+exampleKeyID+"\naws_secret_access_key = "+exampleSecret+"\n",
	)
}

func (s *sandbox) writePolicy(yaml string) {
	s.t.Helper()
	s.write(s.policy, yaml)
}

// offlineFlags are the exec/credentials flags that keep sentinel off STS.
func (s *sandbox) offlineFlags() []string {
	return []string{"--no-session", "--identity-source", "os", "--policy", s.policy, "--log-file", s.decisions}
}

func (s *sandbox) environ(extra map[string]string) []string {
	return testkit.Environ(s.env, extra)
}

// process is a running sentinel, in its own process group so that it and
// whatever it started can be killed together.
type process struct {
	t      *testing.T
	args   []string
	cmd    *exec.Cmd
	stdout testkit.LockedBuffer
	stderr testkit.LockedBuffer
	done   chan struct{}
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// start runs the sentinel binary with args in the sandbox.
func (s *sandbox) start(extra map[string]string, args ...string) *process {
	s.t.Helper()
	p := &process{t: s.t, args: args, done: make(chan struct{})}
	p.cmd = exec.Command(e2e.Sentinel(s.t), args...)
	p.cmd.Env = s.environ(extra)
	p.cmd.Dir = s.dir
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.WaitDelay = 2 * time.Second // a leftover grandchild must not hold Wait on the pipes
	e2e.OwnProcessGroup(p.cmd)
	if err := p.cmd.Start(); err != nil {
		s.t.Fatalf("start sentinel %v: %v", args, err)
	}
	go func() {
		_ = p.cmd.Wait()
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

// wait waits at most timeout for the process to exit and returns its result.
func (p *process) wait(timeout time.Duration) result {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.killGroup()
		<-p.done
		p.t.Fatalf("sentinel %v did not exit within %s\nstdout:\n%s\nstderr:\n%s", p.args, timeout, p.stdout.String(), p.stderr.String())
	}
	r := result{code: p.cmd.ProcessState.ExitCode(), stdout: p.stdout.String(), stderr: p.stderr.String()}
	if strings.Contains(r.stderr, "WARNING: DATA RACE") {
		p.t.Errorf("data race in sentinel %v:\n%s", p.args, r.stderr)
	}
	return r
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

// sessions lists sessions as JSON through a separate sentinel process.
func (s *sandbox) sessions(args ...string) []ports.Session {
	s.t.Helper()
	r := s.mustRun(append([]string{"server-sessions", "--output", "json"}, args...)...)
	var out []ports.Session
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		s.t.Fatalf("server-sessions output is not a JSON list of sessions: %v\n%s", err, r.stdout)
	}
	return out
}

// session finds one session by id among all statuses.
func (s *sandbox) session(id string) ports.Session {
	s.t.Helper()
	for _, sess := range s.sessions("--status", "all") {
		if sess.ID == id {
			return sess
		}
	}
	s.t.Fatalf("session %s not listed by server-sessions --status all", id)
	return ports.Session{}
}

// waitActiveSession polls server-sessions until an active session for
// profile appears, and returns it.
func (s *sandbox) waitActiveSession(p *process, profile string) ports.Session {
	s.t.Helper()
	var found ports.Session
	testkit.Eventually(s.t, 20*time.Second, "an active session for profile "+profile, func() bool {
		if p.exited() {
			s.t.Fatalf("sentinel exited before its session was listed: %s", p.wait(time.Second))
		}
		// Until the server has created the store, there is none to list.
		if r := s.run(nil, "server-sessions", "--profile", profile); r.code != 0 && strings.Contains(r.stderr, "nothing recorded there yet") {
			return false
		}
		for _, sess := range s.sessions("--profile", profile) {
			if sess.Status == ports.SessionActive {
				found = sess
				return true
			}
		}
		return false
	})
	return found
}

var sessionLine = regexp.MustCompile(`session ([0-9a-f]{32})\b`)

// sessionFromStderr reads the id from "serving profile ... ; session ID".
func sessionFromStderr(t *testing.T, stderr string) string {
	t.Helper()
	m := sessionLine.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no session id on sentinel's stderr:\n%s", stderr)
	}
	return m[1]
}

func readChildResult(t *testing.T, path string) retrieveResult {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the child wrote no result: %v", err)
	}
	var r retrieveResult
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("child result %q: %v", data, err)
	}
	return r
}

func osUserName(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatalf("os user: %v", err)
	}
	return u.Username
}

// allowAllPolicy allows every request in every mode.
const allowAllPolicy = `version: "1"
rules:
  - name: allow-all
    effect: allow
    reason: tests
`
