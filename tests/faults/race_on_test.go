//go:build race

package faults

// raceEnabled builds the sentinel binary with -race too, so a data race in
// the server fails these tests.
const raceEnabled = true
