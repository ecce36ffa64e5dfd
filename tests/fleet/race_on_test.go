//go:build race

package fleet

// raceEnabled builds the sentinel binary with -race too, so a data race in
// any of the servers fails the test.
const raceEnabled = true
