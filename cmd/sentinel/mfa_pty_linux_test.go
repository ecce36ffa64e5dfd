package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sentinel-gw/sentinel/internal/e2e"
	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/internal/testenv"
)

// newPTY opens a pseudo-terminal: the master is the "user", the slave becomes sentinel's terminal.
func newPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		testenv.Need(t, "no pseudo-terminal available (/dev/ptmx: %v)", err)
	}
	t.Cleanup(func() { _ = master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = slave.Close() })
	return master, slave
}

// mfaCredentialsCmd runs `sentinel credentials` for the MFA profile as a new
// session, with stdin holding a wrong code: the prompt must never read it.
func mfaCredentialsCmd(t *testing.T, sb *sandbox, sts *fakests.Server) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(e2e.Sentinel(t), "credentials", "--profile", "prod", "--identity-source", "os",
		"--policy", sb.policy, "--log-file", sb.decisions)
	cmd.Env = sb.environ(map[string]string{"AWS_ENDPOINT_URL_STS": sts.URL()})
	cmd.Dir = sb.dir
	cmd.Stdin = strings.NewReader("999999\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd, &stdout, &stderr
}

// The code is asked on the controlling terminal, not on stdin.
func TestMFAPromptOnTheTerminal(t *testing.T) {
	t.Parallel()
	master, slave := newPTY(t)
	sb, sts := newMFASandbox(t, "123456")
	writeMFAProfile(sb, "")
	cmd, stdout, stderr := mfaCredentialsCmd(t, sb, sts)
	cmd.ExtraFiles = []*os.File{slave} // fd 3
	cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, 3
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	prompted := make(chan string, 1)
	go func() {
		r := bufio.NewReader(master)
		var seen strings.Builder
		for {
			b, err := r.ReadByte()
			if err != nil {
				prompted <- seen.String()
				return
			}
			seen.WriteByte(b)
			if strings.HasSuffix(seen.String(), "(profile prod): ") {
				prompted <- seen.String()
				return
			}
		}
	}()
	select {
	case p := <-prompted:
		if !strings.Contains(p, "MFA code for "+mfaSerial) {
			t.Fatalf("terminal showed %q", p)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no prompt on the terminal; stderr:\n%s", stderr)
	}
	if _, err := master.WriteString("123456\n"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sentinel credentials: %v\nstderr:\n%s", err, stderr)
	}
	if !strings.Contains(stdout.String(), `"SessionToken"`) {
		t.Fatalf("stdout %q", stdout)
	}
	checkMFASession(t, sts, "123456")
}

// Without a terminal (a new session with none) and without mfa_process, the error says what to do.
func TestMFAWithoutTerminalSaysWhatToDo(t *testing.T) {
	t.Parallel()
	sb, sts := newMFASandbox(t, "123456")
	writeMFAProfile(sb, "")
	cmd, _, stderr := mfaCredentialsCmd(t, sb, sts)
	err := cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Fatalf("err = %v, want exit 1; stderr:\n%s", err, stderr)
	}
	for _, w := range []string{"no terminal", "--mfa-token CODE", "mfa_process"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("stderr %q does not say %q", stderr, w)
		}
	}
	if n := len(sts.Calls()); n != 0 {
		t.Fatalf("STS got %d calls", n)
	}
}
