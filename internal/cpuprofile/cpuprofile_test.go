package cpuprofile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStartWritesAProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.out")
	stop, err := Start(path)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() == 0 || info.Mode().Perm() != 0o600 {
		t.Fatalf("profile %d bytes, mode %v; want a non-empty file of mode 0600", info.Size(), info.Mode().Perm())
	}
}

func TestStartEmptyPathProfilesNothing(t *testing.T) {
	stop, err := Start("")
	if err != nil || stop == nil {
		t.Fatalf("Start(\"\"): stop set %v, error %v", stop != nil, err)
	}
	stop()
}

func TestStartUnwritablePath(t *testing.T) {
	if _, err := Start(filepath.Join(t.TempDir(), "missing", "cpu.out")); err == nil {
		t.Fatal("a profile into a folder that does not exist started")
	}
}
