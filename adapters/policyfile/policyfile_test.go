package policyfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
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

func TestSourceFailsClosedOnABrokenEditAndRecovers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write(t, path, allow, 0o600)
	s, err := NewSource(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, "version: \"1\"\nrules:\n  - name: x\n    effect: alow\n", 0o600)
	p, err := s.Current()
	if err == nil || p != nil {
		t.Fatalf("a broken policy was served: %v", p)
	}
	if !strings.Contains(err.Error(), "4:") || !strings.Contains(err.Error(), path) {
		t.Errorf("error lacks the file and line: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Current(); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a deleted policy: err = %v", err)
	}
	write(t, path, deny, 0o600)
	if got := firstRule(t, s); got != "closed" {
		t.Fatalf("did not recover: rule = %q", got)
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
