// Package cpuprofile writes a CPU profile of a whole run to a file, for the
// performance analysis in docs/performance.md: sentinel's own
// SENTINEL_CPU_PROFILE and the bench's baseline server share it.
package cpuprofile

import (
	"os"
	"runtime/pprof"
)

// Start starts a CPU profile into path (created or truncated, mode 0600)
// and returns the function that writes it out. An empty path profiles
// nothing.
func Start(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}
