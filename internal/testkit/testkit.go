// Package testkit holds the small helpers the end-to-end test packages
// (cmd/sentinel, tests/faults, tests/corrupt, tests/fleet) share: polling
// for a condition, reading a JSON Lines file another process is still
// writing, collecting a process's output while it runs, and building a
// process environment.
package testkit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/e2e"
)

// PollInterval is how often Eventually checks its condition.
const PollInterval = 20 * time.Millisecond

// Eventually polls cond every PollInterval until it holds, and fails t
// naming what it waited for once timeout passes without it.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(PollInterval)
	}
}

// ReadJSONLines decodes every complete line of a JSON Lines file; a missing
// file is empty. A last line still being written (no newline yet) is left
// for the next read, and blank lines are skipped; a line that is not JSON
// for T fails t.
func ReadJSONLines[T any](t testing.TB, path string) []T {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return decodeLines[T](t, path, data)
}

func decodeLines[T any](t testing.TB, path string, data []byte) []T {
	t.Helper()
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("%s: bad JSON line %q: %v", path, line, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

// LockedBuffer collects a process's output and can be read while the
// process still writes to it.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Environ merges base and extra (extra wins on a shared name) into a
// process environment of "NAME=value" entries, sorted by name so that a
// run is reproducible.
func Environ(base, extra map[string]string) []string {
	merged := maps.Clone(base)
	if merged == nil {
		merged = make(map[string]string, len(extra))
	}
	maps.Copy(merged, extra)
	out := make([]string, 0, len(merged))
	for _, k := range slices.Sorted(maps.Keys(merged)) {
		out = append(out, k+"="+merged[k])
	}
	return out
}

// HomeEnv is the environment of a process that must see nothing of the
// machine's user: HOME, the XDG folders and TMPDIR made fresh under dir,
// PATH kept, no EC2 metadata lookups, and, in a race build, no second of
// sleep at every exit. Callers add their own AWS files and store.
func HomeEnv(t testing.TB, dir string) map[string]string {
	t.Helper()
	mkdir := func(rel string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := map[string]string{
		"PATH":                      os.Getenv("PATH"),
		"HOME":                      mkdir("home"),
		"XDG_DATA_HOME":             mkdir("xdg/data"),
		"XDG_CONFIG_HOME":           mkdir("xdg/config"),
		"XDG_STATE_HOME":            mkdir("xdg/state"),
		"XDG_CACHE_HOME":            mkdir("xdg/cache"),
		"TMPDIR":                    mkdir("tmp"),
		"SHELL":                     "/bin/sh",
		"AWS_EC2_METADATA_DISABLED": "true",
	}
	if e2e.Race {
		// The race runtime sleeps 1 s at exit by default; every process
		// (sentinel and every child) would pay it.
		env["GORACE"] = "atexit_sleep_ms=0"
	}
	return env
}
