package main

import (
	"fmt"

	"github.com/sentinel-gw/sentinel/internal/cpuprofile"
)

// profileEnv names a file that receives a CPU profile of the whole run, for
// the performance analysis in docs/performance.md. Unset: no profiling.
const profileEnv = "SENTINEL_CPU_PROFILE"

// startProfile starts a CPU profile when SENTINEL_CPU_PROFILE is set and
// returns the function that writes it out.
func startProfile(getenv func(string) string) (func(), error) {
	stop, err := cpuprofile.Start(getenv(profileEnv))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", profileEnv, err)
	}
	return stop, nil
}
