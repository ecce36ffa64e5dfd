package policyfile

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
)

// watched is sourceOn with Watch running.
func watched(t *testing.T, path string, cfg WatchConfig) (*Source, <-chan Reload) {
	t.Helper()
	_, s, reloads := sourceOn(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	done := s.Watch(ctx, cfg)
	t.Cleanup(func() { cancel(); <-done })
	return s, reloads
}

// With a watch, an edit takes effect on the very next request once the
// watcher has seen it: an in-place write, an editor's rename over the file,
// and a ConfigMap-style symlink swap. The poll is an hour, so only file
// events can explain the reloads.
func TestWatchReloadsOnFileEvents(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	s, reloads := watched(t, path, WatchConfig{Poll: time.Hour})

	write(t, path, deny, 0o600)
	waitLoaded(t, reloads, deny)
	if got := firstRule(t, s); got != "closed" {
		t.Fatalf("after an in-place write rule = %q", got)
	}

	renamed := strings.Replace(allow, "open", "opem", 1)
	write(t, path+".swp", renamed, 0o600)
	if err := os.Rename(path+".swp", path); err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, reloads, renamed)
	if got := firstRule(t, s); got != "opem" {
		t.Fatalf("after a rename over the file rule = %q", got)
	}
}

// Kubernetes mounts a ConfigMap as policy.yaml -> ..data/policy.yaml with
// ..data -> ..<timestamp>, and updates it by swapping ..data.
func TestWatchFollowsAConfigMapSymlinkSwap(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows: symlinks need a privilege; ConfigMap mounts are a Linux thing")
	}
	dir := t.TempDir()
	mkVersion := func(name, body string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, name, "policy.yaml"), body, 0o600)
	}
	mkVersion("..v1", allow)
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "policy.yaml")
	if err := os.Symlink(filepath.Join("..data", "policy.yaml"), path); err != nil {
		t.Fatal(err)
	}
	s, reloads := watched(t, path, WatchConfig{Poll: time.Hour})

	mkVersion("..v2", deny)
	if err := os.Symlink("..v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..v1")); err != nil {
		t.Fatal(err)
	}
	waitLoaded(t, reloads, deny)
	if got := firstRule(t, s); got != "closed" {
		t.Fatalf("after the swap rule = %q", got)
	}
}

// Where no file events come (NFS, or a watch that could not be set up),
// the periodic stat reloads: this runs the watcher with no event source.
func TestPollReloadsWithoutEvents(t *testing.T) {
	path, s, reloads := sourceOn(t, filepath.Join(t.TempDir(), "policy.yaml"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.watching.Store(true)
	go s.watch(ctx, nil, nil, WatchConfig{Poll: 20 * time.Millisecond, Settle: DefaultSettle}, slog.New(slog.DiscardHandler), done)
	defer func() { cancel(); <-done }()

	write(t, path, deny, 0o600)
	waitLoaded(t, reloads, deny)
	if got := firstRule(t, s); got != "closed" {
		t.Fatalf("rule = %q", got)
	}
}

// While watched, Current reads memory only: no stat, so nothing allocated.
func TestWatchedCurrentDoesNotStat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	s, _ := watched(t, path, WatchConfig{Poll: time.Hour})
	if n := testing.AllocsPerRun(100, func() { _, _ = s.Current() }); n != 0 {
		t.Errorf("watched Current allocates %.0f times per call; a stat allocates", n)
	}
	unwatched, err := NewSource(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = unwatched.Current() }); n == 0 {
		t.Error("the unwatched Current did not allocate: this test no longer tells a stat apart")
	}
}

// A refused reload is logged at error level with the version kept in force;
// a load at info with its version.
func TestLogReloads(t *testing.T) {
	var buf bytes.Buffer
	log := LogReloads(slog.New(slog.NewJSONHandler(&buf, nil)))
	v := policy.HashOf([]byte(allow))
	log(Reload{Path: "p.yaml", Loaded: v, InForce: v})
	log(Reload{Path: "p.yaml", InForce: v, Err: os.ErrInvalid})
	log(Reload{Path: "p.yaml", Err: os.ErrNotExist})
	out := buf.String()
	for _, want := range []string{
		`"level":"INFO","msg":"policy loaded","policy":"p.yaml","version":"` + v + `"`,
		`"level":"ERROR","msg":"policy reload refused: the file is invalid; the last valid policy stays in force until it is fixed","policy":"p.yaml","in_force":"` + v + `"`,
		`"level":"ERROR","msg":"policy cannot be loaded: every credential request is refused until it is fixed"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

func BenchmarkCurrentWatched(b *testing.B) {
	path := filepath.Join(b.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(allow), 0o600); err != nil {
		b.Fatal(err)
	}
	s, err := NewSource(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := s.Watch(ctx, WatchConfig{})
	defer func() { cancel(); <-done }()
	for b.Loop() {
		if _, err := s.Current(); err != nil {
			b.Fatal(err)
		}
	}
}

// Writes to other files in the policy's directory (a decision log beside
// it, say) do not make the watcher stat the policy; a write to the policy
// still does.
func TestWatchIgnoresOtherFilesInTheDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	s, reloads := watched(t, path, WatchConfig{Poll: time.Hour, Settle: time.Millisecond})
	before := s.checks.Load()
	for i := range 50 {
		write(t, filepath.Join(dir, "decisions.jsonl"), strings.Repeat("x", i), 0o600)
		time.Sleep(2 * time.Millisecond) // past the settle time: without the filter, each write is a check
	}
	// Then the policy: once its reload is seen, every earlier event has been handled.
	write(t, path, deny, 0o600)
	waitLoaded(t, reloads, deny)
	if n := s.checks.Load() - before; n > 2 {
		t.Errorf("%d checks of the policy for 50 writes to another file and 1 to the policy, want at most 2", n)
	}
}
