package corrupt

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/e2e"
	"github.com/sentinel-gw/sentinel/internal/testkit"
)

// AWS's documented example keys: nothing here reaches AWS.
const (
	exampleKeyID  = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	profile       = "dev"
)

// commandTimeout bounds one sentinel command on a loaded 2-core machine.
const commandTimeout = 30 * time.Second

// sandbox is one test's private world: HOME, XDG dirs and AWS files in a
// temp dir and an environment built from scratch, so nothing of the
// machine's AWS setup reaches sentinel or its child.
type sandbox struct {
	t      *testing.T
	dir    string
	env    map[string]string
	policy string
}

func newSandbox(t *testing.T, store string) *sandbox {
	t.Helper()
	dir := t.TempDir()
	s := &sandbox{t: t, dir: dir, policy: filepath.Join(dir, "policy.yaml")}
	s.env = testkit.HomeEnv(t, dir)
	s.env["AWS_CONFIG_FILE"] = filepath.Join(dir, "aws-config")
	s.env["AWS_SHARED_CREDENTIALS_FILE"] = filepath.Join(dir, "aws-credentials")
	s.env["SENTINEL_STORE"] = store
	s.write(s.env["AWS_CONFIG_FILE"], fmt.Sprintf("[profile %s]\nregion = us-east-1\n", profile))
	s.write(s.env["AWS_SHARED_CREDENTIALS_FILE"],
		fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", profile, exampleKeyID, exampleSecret))
	s.write(s.policy, "version: \"1\"\nrules:\n  - name: allow-all\n    effect: allow\n    reason: tests\n")
	return s
}

func (s *sandbox) write(path, content string) {
	s.t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sandbox) environ(extra map[string]string) []string {
	return testkit.Environ(s.env, extra)
}

// process is a running sentinel in its own process group, so it and its
// child can be killed together.
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

func (s *sandbox) start(extra map[string]string, args ...string) *process {
	s.t.Helper()
	p := &process{t: s.t, args: args, done: make(chan struct{})}
	p.cmd = exec.Command(e2e.Sentinel(s.t), args...)
	p.cmd.Env = s.environ(extra)
	p.cmd.Dir = s.dir
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.WaitDelay = 2 * time.Second
	e2e.OwnProcessGroup(p.cmd)
	if err := p.cmd.Start(); err != nil {
		s.t.Fatalf("start sentinel %v: %v", args, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	s.t.Cleanup(func() {
		e2e.KillProcessGroup(p.cmd.Process)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			s.t.Errorf("sentinel %v did not go away after SIGKILL", args)
		}
	})
	return p
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
		e2e.KillProcessGroup(p.cmd.Process)
		<-p.done
		p.t.Fatalf("sentinel %v did not exit within %s\nstderr:\n%s", p.args, timeout, p.stderr.String())
	}
	r := result{code: p.cmd.ProcessState.ExitCode(), stdout: p.stdout.String(), stderr: p.stderr.String()}
	checkOutput(p.t, p.args, r)
	return r
}

// checkOutput fails on a data race or a panic in any sentinel process.
func checkOutput(t *testing.T, args []string, r result) {
	t.Helper()
	if strings.Contains(r.stderr, "WARNING: DATA RACE") {
		t.Errorf("data race in sentinel %v:\n%s", args, r.stderr)
	}
	if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("sentinel %v panicked:\n%s", args, r.stderr)
	}
}

func (s *sandbox) run(args ...string) result {
	s.t.Helper()
	return s.start(nil, args...).wait(commandTimeout)
}

func (s *sandbox) mustRun(args ...string) result {
	s.t.Helper()
	r := s.run(args...)
	if r.code != 0 {
		s.t.Fatalf("sentinel %v: %s", args, r)
	}
	return r
}

var sessionLine = regexp.MustCompile(`session ([0-9a-f]{32})\b`)
