//go:build unix

package childproc

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The test binary doubles as the programs the process-level tests need: a
// sentinel-like parent that calls Run, and children that report what they saw.
const (
	helperEnv = "SENTINEL_CHILDPROC_HELPER"
	// nextHelperEnv names the helper mode the parent helper gives its child.
	nextHelperEnv = "SENTINEL_CHILDPROC_NEXT"
)

func TestMain(m *testing.M) {
	switch mode := os.Getenv(helperEnv); mode {
	case "":
		goleak.VerifyTestMain(m)
	case "parent":
		os.Exit(helperParent(os.Args[1:]))
	case "count-sigint":
		os.Exit(helperCountSIGINT(os.Args[1], os.Args[2]))
	case "report-sighup-ignored":
		os.Exit(helperReportSIGHUPIgnored(os.Args[1]))
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperEnv, mode)
		os.Exit(2)
	}
}

// helperParent plays `sentinel exec`: it runs argv through ResolveCommand and
// Run with its own stdio and exits with Run's code. Run's debug log goes to
// stderr as JSON, so tests can see which signals it forwarded.
func helperParent(argv []string) int {
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, helperEnv+"=") && !strings.HasPrefix(kv, nextHelperEnv+"=") {
			env = append(env, kv)
		}
	}
	if next := os.Getenv(nextHelperEnv); next != "" {
		env = append(env, helperEnv+"="+next)
	}
	path, args, err := ResolveCommand(argv, env)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return StartErrorCode(err)
	}
	code, err := Run(context.Background(), Options{
		Path: path, Args: args, Env: env,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Logger: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return code
}

// helperCountSIGINT appends one line to marker per SIGINT it receives, after
// creating ready, and exits 0 once no SIGINT has come for a while.
func helperCountSIGINT(ready, marker string) int {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT)
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		return 2
	}
	quiet := time.NewTimer(20 * time.Second) // never signalled: give up eventually
	for {
		select {
		case <-sigs:
			f, err := os.OpenFile(marker, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				return 2
			}
			_, _ = f.WriteString("SIGINT\n")
			_ = f.Close()
			// A duplicate follows within microseconds; wait well past that.
			quiet.Reset(700 * time.Millisecond)
		case <-quiet.C:
			return 0
		}
	}
}

// helperReportSIGHUPIgnored writes whether this process started with SIGHUP ignored.
func helperReportSIGHUPIgnored(marker string) int {
	if err := os.WriteFile(marker, fmt.Appendf(nil, "%t", signal.Ignored(syscall.SIGHUP)), 0o600); err != nil {
		return 2
	}
	return 0
}

// waitForFile polls until path exists.
func waitForFile(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testBinary is this test executable, re-run as a helper.
func testBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}
