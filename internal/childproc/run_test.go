//go:build unix

package childproc

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The tests in this file are not parallel: Run listens for signals sent to
// the whole test process, so a SIGUSR1 meant for one child would reach all.

// runArgs resolves argv against the test's environment and runs it.
func runArgs(t *testing.T, ctx context.Context, argv []string, mod func(*Options)) (int, error) {
	t.Helper()
	path, args, err := ResolveCommand(argv, os.Environ())
	if err != nil {
		t.Fatalf("resolve %q: %v", argv, err)
	}
	opts := Options{Path: path, Args: args, Env: os.Environ(), TermGrace: 300 * time.Millisecond}
	if mod != nil {
		mod(&opts)
	}
	return Run(ctx, opts)
}

func TestRunReturnsChildExitCode(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want int
	}{
		{"true", []string{"true"}, 0},
		{"false", []string{"false"}, 1},
		{"exit 3", []string{"sh", "-c", "exit 3"}, 3},
		{"killed by SIGTERM", []string{"sh", "-c", "kill -TERM $$"}, 128 + 15},
		{"killed by SIGKILL", []string{"sh", "-c", "kill -KILL $$"}, 128 + 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := runArgs(t, context.Background(), tt.argv, nil)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if code != tt.want {
				t.Fatalf("code = %d, want %d", code, tt.want)
			}
		})
	}
}

func TestRunStartFailures(t *testing.T) {
	dir := t.TempDir()
	notExecutable := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missingInterpreter := filepath.Join(dir, "bad-shebang")
	if err := os.WriteFile(missingInterpreter, []byte("#!"+filepath.Join(dir, "no-such-interpreter")+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	truePath, _, err := ResolveCommand([]string{"true"}, os.Environ())
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		opts     Options
		wantCode int
		wantErr  error
		wantMsg  string
	}{
		{"missing command", Options{Path: filepath.Join(dir, "terrafrom")}, 127, ErrCommandNotFound, "terrafrom\" not found"},
		{"file without execute bit", Options{Path: notExecutable}, 126, ErrNotExecutable, "not executable"},
		{"directory", Options{Path: dir}, 126, ErrNotExecutable, "not executable"},
		{"missing #! interpreter", Options{Path: missingInterpreter}, 127, ErrCommandNotFound, "interpreter"},
		{"missing working directory", Options{Path: truePath, Dir: filepath.Join(dir, "gone")}, 126, ErrNotExecutable, "not an existing directory"},
		{"working directory is a file", Options{Path: truePath, Dir: notExecutable}, 126, ErrNotExecutable, "not an existing directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := Run(context.Background(), tt.opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if code != tt.wantCode {
				t.Fatalf("code = %d, want %d", code, tt.wantCode)
			}
			if StartErrorCode(err) != tt.wantCode {
				t.Fatalf("StartErrorCode = %d, want %d", StartErrorCode(err), tt.wantCode)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

func TestRunForwardsSignalsToChild(t *testing.T) {
	// The child only learns of SIGUSR1 through Run: it is sent to this process.
	dir := t.TempDir()
	ready, marker := filepath.Join(dir, "ready"), filepath.Join(dir, "marker")
	script := `trap 'echo USR1 > "$2"; exit 0' USR1; : > "$1"; while :; do sleep 0.02; done`

	result := make(chan int, 1)
	go func() {
		code, err := runArgs(t, context.Background(), []string{"sh", "-c", script, "sh", ready, marker}, nil)
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		result <- code
	}()
	waitForFile(t, ready, 5*time.Second)
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-result:
		if code != 0 {
			t.Fatalf("code = %d, want 0 (the trap's exit)", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("child did not exit after SIGUSR1")
	}
	got, err := os.ReadFile(marker)
	if err != nil || strings.TrimSpace(string(got)) != "USR1" {
		t.Fatalf("marker = %q, %v; want USR1", got, err)
	}
}

func TestRunForwardedSIGTERMEndsChild(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	result := make(chan int, 1)
	go func() {
		code, _ := runArgs(t, context.Background(), []string{"sh", "-c", `: > "$1"; exec sleep 30`, "sh", ready}, nil)
		result <- code
	}()
	waitForFile(t, ready, 5*time.Second)
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-result:
		if code != 128+int(syscall.SIGTERM) {
			t.Fatalf("code = %d, want 143", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("child did not exit after SIGTERM")
	}
}

func TestRunKillsChildThatIgnoresSIGTERM(t *testing.T) {
	const grace = 300 * time.Millisecond
	triggers := []struct {
		name  string
		start func(cancel context.CancelFunc) error
	}{
		{"context cancelled", func(cancel context.CancelFunc) error { cancel(); return nil }},
		{"SIGTERM forwarded", func(context.CancelFunc) error { return syscall.Kill(os.Getpid(), syscall.SIGTERM) }},
	}
	for _, tr := range triggers {
		t.Run(tr.name, func(t *testing.T) {
			ready := filepath.Join(t.TempDir(), "ready")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// An ignored signal stays ignored across exec, so sleep itself ignores SIGTERM.
			script := `trap '' TERM; : > "$1"; exec sleep 30`
			result := make(chan int, 1)
			go func() {
				code, _ := runArgs(t, ctx, []string{"sh", "-c", script, "sh", ready}, func(o *Options) { o.TermGrace = grace })
				result <- code
			}()
			waitForFile(t, ready, 5*time.Second)
			triggered := time.Now()
			if err := tr.start(cancel); err != nil {
				t.Fatal(err)
			}
			select {
			case code := <-result:
				took := time.Since(triggered)
				if code != 128+int(syscall.SIGKILL) {
					t.Fatalf("code = %d, want 137", code)
				}
				if took < grace {
					t.Fatalf("killed after %v, before the %v grace", took, grace)
				}
				t.Logf("SIGKILL %v after the trigger (grace %v)", took, grace)
			case <-time.After(5 * time.Second):
				t.Fatal("child not killed within 5s")
			}
		})
	}
}

// A forwarded SIGINT never escalates: the child owns what Ctrl-C means.
func TestRunDoesNotKillChildThatHandlesSIGINT(t *testing.T) {
	const grace = 200 * time.Millisecond
	dir := t.TempDir()
	ready, got := filepath.Join(dir, "ready"), filepath.Join(dir, "got")
	// Finishes its "in-flight work" for 5 graces after the SIGINT, then exits 0.
	script := `trap ': > "$2"' INT; : > "$1"; while [ ! -e "$2" ]; do sleep 0.05; done; sleep 1; exit 0`
	result := make(chan int, 1)
	go func() {
		code, _ := runArgs(t, context.Background(), []string{"sh", "-c", script, "sh", ready, got}, func(o *Options) { o.TermGrace = grace })
		result <- code
	}()
	waitForFile(t, ready, 5*time.Second)
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-result:
		if code != 0 {
			t.Fatalf("code = %d, want 0: the child was killed instead of finishing after SIGINT", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("child did not finish within 10s")
	}
}

func TestRunContextCancelStopsChild(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan int, 1)
	go func() {
		// TermGrace is long so the exit must come from SIGTERM, not the SIGKILL.
		code, _ := runArgs(t, ctx, []string{"sh", "-c", `: > "$1"; exec sleep 30`, "sh", ready}, func(o *Options) { o.TermGrace = time.Minute })
		result <- code
	}()
	waitForFile(t, ready, 5*time.Second)
	cancel()
	select {
	case code := <-result:
		if code != 128+int(syscall.SIGTERM) {
			t.Fatalf("code = %d, want 143", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("child still running 5s after cancel")
	}
}

func TestRunDoesNotStartWithDoneContext(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "started")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, err := runArgs(t, ctx, []string{"sh", "-c", `: > "$1"`, "sh", marker}, nil)
	if !errors.Is(err, context.Canceled) || code != 1 {
		t.Fatalf("Run = %d, %v; want 1, context.Canceled", code, err)
	}
	if _, statErr := os.Stat(marker); !os.IsNotExist(statErr) {
		t.Fatalf("child ran although the context was already cancelled")
	}
}

func TestRunKeepsChildInOurProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan int, 1)
	go func() {
		code, _ := runArgs(t, ctx, []string{"sh", "-c", `echo $$ > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 30`, "sh", pidFile}, nil)
		result <- code
	}()
	waitForFile(t, pidFile, 5*time.Second)
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	childGroup, err := syscall.Getpgid(pid)
	cancel()
	<-result
	if err != nil {
		t.Fatalf("getpgid(%d): %v", pid, err)
	}
	if childGroup != syscall.Getpgrp() {
		t.Fatalf("child process group %d, ours %d: the child must share our group", childGroup, syscall.Getpgrp())
	}
}

func TestRunKeepsInheritedIgnoredSignalsIgnored(t *testing.T) {
	// `nohup sentinel exec -- cmd`: the parent starts with SIGHUP ignored and
	// the child must inherit that, not have Run's handler reset it to default.
	marker := filepath.Join(t.TempDir(), "marker")
	cmd := exec.Command("sh", "-c", `trap '' HUP; exec "$0" "$@"`, testBinary(t), testBinary(t), marker)
	cmd.Env = append(os.Environ(), helperEnv+"=parent", nextHelperEnv+"=report-sighup-ignored")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	got, err := os.ReadFile(marker)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "true" {
		t.Fatalf("child saw SIGHUP ignored = %s, want true", got)
	}
}

func TestRunCopiesNonFileStdioWithoutLeaks(t *testing.T) {
	defer goleak.VerifyNone(t)
	var stdout, stderr bytes.Buffer
	code, err := runArgs(t, context.Background(), []string{"sh", "-c", `cat; echo oops >&2`}, func(o *Options) {
		o.Stdin = strings.NewReader("plan output\n")
		o.Stdout, o.Stderr = &stdout, &stderr
	})
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if stdout.String() != "plan output\n" || stderr.String() != "oops\n" {
		t.Fatalf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestRunPassesOnlyGivenEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	var stdout bytes.Buffer
	code, err := runArgs(t, context.Background(), []string{"sh", "-c", `echo "$ONLY_THIS|${HOME:-unset}|$(pwd)"`}, func(o *Options) {
		o.Env = []string{"ONLY_THIS=yes"}
		o.Dir = dir
		o.Stdout = &stdout
	})
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	resolvedDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := "yes|unset|" + resolvedDir + "\n"; stdout.String() != want {
		t.Fatalf("child saw %q, want %q", stdout.String(), want)
	}
}
