package benchtool

import (
	"slices"
	"time"
)

// Summary is the spread of a small set of measurements, such as one value
// per revocation round. Values may be negative (a refusal seen before the
// revoke command returned).
type Summary struct {
	N             int
	Min, P50, P99 time.Duration
	Max           time.Duration
}

// Summarize sorts a copy of values and takes nearest-rank percentiles.
func Summarize(values []time.Duration) Summary {
	if len(values) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	at := func(q float64) time.Duration { return sorted[quantileRank(q, uint64(len(sorted)))-1] }
	return Summary{N: len(sorted), Min: sorted[0], P50: at(0.50), P99: at(0.99), Max: sorted[len(sorted)-1]}
}
