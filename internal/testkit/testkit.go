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
	"slices"
	"sync"
	"testing"
	"time"
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
