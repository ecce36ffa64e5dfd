package childproc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests run the parent helper as a session leader with a fresh
// pseudo-terminal as its controlling terminal, the way a shell runs
// `sentinel exec -- terraform apply` in the foreground.

// openPTY returns a pseudo-terminal's master and slave ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal available (/dev/ptmx: %v)", err)
	}
	t.Cleanup(func() { _ = master.Close() })
	var n int
	var ioctlErr error
	conn, err := master.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Control(func(fd uintptr) {
		if ioctlErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioctlErr == nil {
			n, ioctlErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if ioctlErr != nil {
		t.Fatalf("unlock pty: %v", ioctlErr)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = slave.Close() })
	return master, slave
}

// startParentHelper starts helperParent running argv. With a terminal it is
// a session leader whose controlling terminal (and foreground group) it is;
// without, it is a session leader with no terminal at all.
func startParentHelper(t *testing.T, ctx context.Context, terminal *os.File, next string, argv ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, testBinary(t), argv...)
	cmd.Env = append(os.Environ(), helperEnv+"=parent", nextHelperEnv+"="+next)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if terminal != nil {
		cmd.Stdin = terminal
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0 // the child's stdin
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// Run's debug records, as the parent helper's JSON log writes them.
const (
	logForwarded        = `"msg":"forwarded signal to child","signal":"interrupt"`
	logAlreadyDelivered = `"msg":"signal already delivered by the terminal","signal":"interrupt"`
)

func countLines(t *testing.T, path string) int {
	t.Helper()
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(raw), "\n")
}

func TestRunCtrlCReachesChildExactlyOnce(t *testing.T) {
	master, slave := openPTY(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	ready, marker := filepath.Join(dir, "ready"), filepath.Join(dir, "marker")

	parent, out := startParentHelper(t, ctx, slave, "count-sigint", testBinary(t), ready, marker)
	waitForFile(t, ready, 10*time.Second)
	// Ctrl-C: the line discipline sends SIGINT to the foreground group,
	// which holds both the parent and its child.
	if _, err := master.Write([]byte{0x03}); err != nil {
		t.Fatal(err)
	}
	if err := parent.Wait(); err != nil {
		t.Fatalf("parent helper: %v\n%s", err, out)
	}
	if got := countLines(t, marker); got != 1 {
		t.Fatalf("child received SIGINT %d times on one Ctrl-C, want exactly 1", got)
	}
	// Two SIGINTs sent microseconds apart often merge into one pending signal,
	// so the count alone can miss a duplicate; Run's own record cannot.
	if strings.Contains(out.String(), logForwarded) || !strings.Contains(out.String(), logAlreadyDelivered) {
		t.Fatalf("Run forwarded the terminal's SIGINT:\n%s", out)
	}
}

func TestRunForwardsSIGINTWithoutTerminal(t *testing.T) {
	// The same signal from kill(1), a CI runner or a supervisor reaches only
	// the parent; it must be forwarded, once.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	ready, marker := filepath.Join(dir, "ready"), filepath.Join(dir, "marker")

	parent, out := startParentHelper(t, ctx, nil, "count-sigint", testBinary(t), ready, marker)
	waitForFile(t, ready, 10*time.Second)
	if err := parent.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := parent.Wait(); err != nil {
		t.Fatalf("parent helper: %v\n%s", err, out)
	}
	if got := countLines(t, marker); got != 1 {
		t.Fatalf("child received SIGINT %d times, want exactly 1", got)
	}
	if !strings.Contains(out.String(), logForwarded) {
		t.Fatalf("Run did not record forwarding SIGINT:\n%s", out)
	}
}

func TestRunChildCanReadTerminal(t *testing.T) {
	// A child in a background group would be stopped by SIGTTIN here, as
	// terraform would be at "Enter a value:"; the context then kills it.
	master, slave := openPTY(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	marker := filepath.Join(t.TempDir(), "answer")

	parent, out := startParentHelper(t, ctx, slave, "", "sh", "-c", `read answer; printf %s "$answer" > "$1"`, "sh", marker)
	if _, err := master.Write([]byte("yes\n")); err != nil {
		t.Fatal(err)
	}
	if err := parent.Wait(); err != nil {
		t.Fatalf("parent helper: %v (context: %v)\n%s", err, ctx.Err(), out)
	}
	got, err := os.ReadFile(marker)
	if err != nil || string(got) != "yes" {
		t.Fatalf("child read %q, %v; want yes", got, err)
	}
}
