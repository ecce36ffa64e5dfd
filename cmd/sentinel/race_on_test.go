//go:build race

package main

// raceEnabled builds the sentinel binary with -race too, so a data race in
// the server fails the end-to-end tests (the binary then exits 66).
const raceEnabled = true
