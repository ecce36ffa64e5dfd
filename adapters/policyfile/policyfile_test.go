package policyfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
)

const allow = "version: \"1\"\nrules:\n  - name: open\n    effect: allow\n"
const deny = "version: \"1\"\nrules:\n  - name: closed\n    effect: deny\n"

func write(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// sourceOn writes the allow policy at path and returns a Source on it and
// its reload attempts, after checking the state Subscribe reports first.
func sourceOn(t *testing.T, path string) (string, *Source, <-chan Reload) {
	t.Helper()
	write(t, path, allow, 0o600)
	s, err := NewSource(path)
	if err != nil {
		t.Fatal(err)
	}
	reloads := make(chan Reload, 64)
	s.Subscribe(func(r Reload) { reloads <- r })
	if r := <-reloads; r.Err != nil || r.InForce != policy.HashOf([]byte(allow)) || r.Loaded != r.InForce {
		t.Fatalf("initial state %+v, want the loaded version", r)
	}
	return path, s, reloads
}

func expectNoReload(t *testing.T, reloads <-chan Reload) {
	t.Helper()
	select {
	case r := <-reloads:
		t.Fatalf("unexpected reload %+v", r)
	default:
	}
}

// waitLoaded waits for the reload that loads body, failing after a while
// (the watcher reloads within DefaultSettle of the event; the bound is slack
// for a loaded machine, not an expectation).
func waitLoaded(t *testing.T, reloads <-chan Reload, body string) {
	t.Helper()
	want := policy.HashOf([]byte(body))
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-reloads:
			if r.Loaded == want {
				return
			}
		case <-deadline:
			t.Fatalf("no reload loaded %s", want)
		}
	}
}

func firstRule(t *testing.T, s *Source) string {
	t.Helper()
	p, err := s.Current()
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	return p.Rules[0].Name
}

func TestSourceReloadsOnChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write(t, path, allow, 0o600)
	s, err := NewSource(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := firstRule(t, s); got != "open" {
		t.Fatalf("rule = %q", got)
	}
	// Same size, written within the same mtime tick: the inode/ctime still change with a rename.
	tmp := path + ".new"
	write(t, tmp, strings.Replace(allow, "open", "opem", 1), 0o600)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if got := firstRule(t, s); got != "opem" {
		t.Fatalf("after an atomic replace rule = %q, want the new policy", got)
	}
	write(t, path, deny, 0o600)
	if got := firstRule(t, s); got != "closed" {
		t.Fatalf("after an in-place edit rule = %q, want the new policy", got)
	}
}

// The gate: an edit that does not parse is refused and the last valid policy
// stays in force (observers hear of it); a removed file fails closed; a
// fixed file is loaded again.
func TestBrokenEditKeepsTheLastValidPolicyAndARemovedFileFailsClosed(t *testing.T) {
	path, s, reloads := sourceOn(t, filepath.Join(t.TempDir(), "policy.yaml"))

	write(t, path, "version: \"1\"\nrules:\n  - name: x\n    effect: alow\n", 0o600)
	if got := firstRule(t, s); got != "open" {
		t.Fatalf("after a broken edit rule = %q, want the last valid policy", got)
	}
	r := <-reloads
	if r.Err == nil || r.Loaded != "" || r.InForce != policy.HashOf([]byte(allow)) {
		t.Fatalf("reload after a broken edit = %+v, want an error with the old version in force", r)
	}
	if !strings.Contains(r.Err.Error(), "4:") || !strings.Contains(r.Err.Error(), path) {
		t.Errorf("error lacks the file and line: %v", r.Err)
	}
	firstRule(t, s)
	expectNoReload(t, reloads) // an unchanged broken file is not reported again

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Current(); err == nil || p != nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a deleted policy: policy %v, err %v; want a fail-closed error", p, err)
	}
	if r := <-reloads; r.Err == nil || r.InForce != "" {
		t.Errorf("reload after removal = %+v, want an error with nothing in force", r)
	}
	_, _ = s.Current()
	expectNoReload(t, reloads)

	write(t, path, deny, 0o600)
	if got := firstRule(t, s); got != "closed" {
		t.Fatalf("did not recover: rule = %q", got)
	}
	if r := <-reloads; r.Err != nil || r.Loaded != policy.HashOf([]byte(deny)) || r.InForce != r.Loaded {
		t.Errorf("reload after the fix = %+v", r)
	}
}

func TestWorldWritablePolicyIsRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows: mode bits are not the file's access control; the check is unix-only")
	}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write(t, path, allow, 0o666)
	_, err := Load(path)
	if !errors.Is(err, ErrUnsafePermissions) || !strings.Contains(err.Error(), "chmod o-w") {
		t.Fatalf("err = %v, want ErrUnsafePermissions with the fix", err)
	}
	if _, err := NewSource(path); !errors.Is(err, ErrUnsafePermissions) {
		t.Fatalf("NewSource err = %v", err)
	}

	// Made unsafe after startup, it fails closed (its content can no longer
	// be trusted), and chmod o-w brings it back.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewSource(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Current(); !errors.Is(err, ErrUnsafePermissions) || p != nil {
		t.Fatalf("made unsafe after start: policy %v, err %v; want ErrUnsafePermissions and no policy", p, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := firstRule(t, s); got != "open" {
		t.Fatalf("after chmod o-w rule = %q", got)
	}
}

func TestMissingPolicySaysWhatToDo(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "--policy") {
		t.Fatalf("err = %v", err)
	}
}

func TestOversizedOrSpecialFilesAreRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: err = %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	write(t, big, strings.Repeat("#", maxPolicyBytes+1), 0o600)
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("an oversized file: err = %v", err)
	}
}

func BenchmarkCurrentUnchanged(b *testing.B) {
	path := filepath.Join(b.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(allow), 0o600); err != nil {
		b.Fatal(err)
	}
	s, err := NewSource(path)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Current(); err != nil {
			b.Fatal(err)
		}
	}
}
