package faults

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// termGrace is the --term-grace the test gives the child.
const termGrace = 500 * time.Millisecond

// exitKilled is what a shell reports for a child killed by SIGKILL (128+9),
// and what sentinel exec exits with when it had to kill its child.
const exitKilled = 137

// A child that ignores SIGTERM: sentinel forwards the SIGTERM it gets, kills
// the child after --term-grace, exits 137 and still marks the session expired.
func TestChildIgnoringSIGTERM(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	p := sb.start(nil, "exec", "--server", "--profile", "dev", "--no-session", "--identity-source", "os",
		"--policy", sb.policy, "--log-file", sb.decisions, "--term-grace", termGrace.String(),
		"--", "sh", "-c", `trap "" TERM; echo ready; sleep 30`)
	var id string
	testkit.Eventually(t, commandTimeout, "the session id, and the child ignoring SIGTERM", func() bool {
		if p.exited() {
			t.Fatalf("sentinel exited early: %s", p.wait(time.Second))
		}
		out, _ := os.ReadFile(p.stdout)
		m := sessionLine.FindStringSubmatch(p.readStderr())
		if m != nil {
			id = m[1]
		}
		return m != nil && strings.Contains(string(out), "ready")
	})

	termAt := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := p.wait(10 * time.Second)
	took := p.exitedAt.Sub(termAt)
	t.Logf("sentinel exited %d, %s after SIGTERM (--term-grace %s)", r.code, took.Round(time.Millisecond), termGrace)
	if r.code != exitKilled {
		t.Errorf("exit code %d, want %d (the child was killed with SIGKILL): %s", r.code, exitKilled, r)
	}
	if took < termGrace || took > termGrace+5*time.Second {
		t.Errorf("exited %s after SIGTERM, want after the %s grace and within 5 s more", took, termGrace)
	}
	if !strings.Contains(r.stderr, "child did not exit in time, killing it") {
		t.Errorf("sentinel did not log the escalation to SIGKILL:\n%s", r.stderr)
	}
	if s := sb.session(id); s.Status != ports.SessionExpired {
		t.Errorf("session %s is %s after sentinel exited, want expired", id, s.Status)
	}

	var bugs knownBugs
	defer bugs.failIfAny(t)
	help := sb.mustRun("exec", "--help").stdout
	commands, err := os.ReadFile("../../docs/commands.md")
	if err != nil {
		t.Fatalf("read docs/commands.md: %v", err)
	}
	if !strings.Contains(help, "--term-grace") {
		t.Errorf("sentinel exec --help does not list --term-grace:\n%s", help)
	}
	bugs.check(strings.Contains(help, "137") || strings.Contains(string(commands), "137"),
		"docs/commands.md (line 8) and the --term-grace help in cmd/sentinel/exec.go: say that sentinel exec exits 128+N when "+
			"signal N ended the child, so 137 when --term-grace ran out and the child was killed",
		"exit code %d is documented neither in exec --help nor in docs/commands.md", exitKilled)
}
