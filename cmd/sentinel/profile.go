package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// profileEnv names a file that receives a CPU profile of the whole run, for
// the performance analysis in docs/performance.md. Unset: no profiling.
const profileEnv = "SENTINEL_CPU_PROFILE"

// startProfile starts a CPU profile when SENTINEL_CPU_PROFILE is set and
// returns the function that writes it out.
func startProfile(getenv func(string) string) (func(), error) {
	path := getenv(profileEnv)
	if path == "" {
		return func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", profileEnv, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%s: %w", profileEnv, err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}
