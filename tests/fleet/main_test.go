// Package fleet runs many `sentinel exec --server` processes on one store and
// revokes them from separate processes, to show that every revoke lands on
// the right server only. It holds tests and nothing else.
package fleet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sentinel-gw/sentinel/internal/testenv"
)

func TestMain(m *testing.M) {
	code := testenv.Main(m)
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// The sentinel binary is built once per test binary, on first use.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	errBin  error
)

func sentinelBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() { binPath, errBin = buildBinary() })
	if errBin != nil {
		t.Fatalf("build sentinel: %v", errBin)
	}
	return binPath
}

func buildBinary() (string, error) {
	dir, err := os.MkdirTemp("", "sentinel-fleet-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	goTool, err := exec.LookPath("go") // go test puts GOROOT/bin first on PATH
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "sentinel")
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/sentinel-gw/sentinel/cmd/sentinel")
	if msg, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w\n%s", err, msg)
	}
	return out, nil
}
