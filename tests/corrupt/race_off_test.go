//go:build !race

package corrupt

const raceEnabled = false
