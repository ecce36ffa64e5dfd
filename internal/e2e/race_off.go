//go:build !race

package e2e

// Race is true when the tests were built with -race.
const Race = false
