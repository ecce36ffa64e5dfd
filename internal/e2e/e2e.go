// Package e2e builds the sentinel binary for tests that run it as a separate
// process, the way a person does: once per test binary, with -race when the
// tests themselves run with it, so a data race in the server fails them.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	once sync.Once
	dir  string
	path string
	err  error
)

// Sentinel returns the path of a sentinel binary built from this module,
// building it on first use; a failed build fails t.
func Sentinel(t testing.TB) string {
	t.Helper()
	once.Do(func() { path, err = build() })
	if err != nil {
		t.Fatalf("build sentinel: %v", err)
	}
	return path
}

// Cleanup removes the built binary; TestMain calls it after m.Run.
func Cleanup() {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

func build() (string, error) {
	d, err := os.MkdirTemp("", "sentinel-e2e-bin-")
	if err != nil {
		return "", err
	}
	dir = d
	goTool, err := exec.LookPath("go") // go test puts its own go first on PATH
	if err != nil {
		return "", err
	}
	out := filepath.Join(d, "sentinel")
	args := []string{"build", "-o", out}
	if Race {
		args = append(args, "-race")
	}
	args = append(args, "github.com/sentinel-gw/sentinel/cmd/sentinel")
	if msg, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w\n%s", err, msg)
	}
	return out, nil
}
