// Package benchtool holds the pure and reusable parts of sentinel-bench: a
// latency histogram, percentiles over small samples, a lean keep-alive HTTP
// client, closed- and open-loop load generators, and the report format.
package benchtool

import (
	"math"
	"math/bits"
	"time"
)

// subBucketBits sets the histogram's precision: 2^7 sub-buckets per power of
// two keep every recorded value within 1/128 (0.8%) of the truth, as HDR
// histograms do with two significant digits.
const (
	subBucketBits  = 7
	subBucketCount = 1 << subBucketBits
	bucketCount    = (64-subBucketBits)*subBucketCount + subBucketCount
)

// Histogram records durations in log-linear buckets (HDR-style): constant
// relative error, fixed memory, O(1) record, mergeable. The zero value is
// ready to use. It is not safe for concurrent use: give each worker its own
// and Merge them.
type Histogram struct {
	counts [bucketCount]uint64
	total  uint64
	sum    uint64
	min    uint64
	max    uint64
}

// bucketOf maps a value to its bucket: exact below 2*subBucketCount, then
// subBucketCount buckets per power of two.
func bucketOf(v uint64) int {
	shift := bits.Len64(v) - subBucketBits - 1
	if shift <= 0 {
		return int(v)
	}
	return shift*subBucketCount + int(v>>uint(shift))
}

// bucketHigh is the highest value that lands in bucket i.
func bucketHigh(i int) uint64 {
	if i < 2*subBucketCount {
		return uint64(i)
	}
	shift := i/subBucketCount - 1
	m := uint64(i - shift*subBucketCount)
	return (m+1)<<uint(shift) - 1
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.total++
	h.sum += v
}

// Merge adds every value recorded in o.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.total += o.total
	h.sum += o.sum
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest recorded value (exact).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min is the smallest recorded value (exact).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean is the average of the recorded values (exact).
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / h.total)
}

// Quantile returns the value at or below which a fraction q (0..1) of the
// recorded values lie: the upper edge of the bucket holding that rank, never
// above the recorded maximum, so it errs high by at most 0.8%. It returns 0
// for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := quantileRank(q, h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(bucketHigh(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// quantileRank is the 1-based rank of quantile q among n values (nearest-rank method).
func quantileRank(q float64, n uint64) uint64 {
	q = min(max(q, 0), 1)
	// The small slack keeps float error (0.57*100 = 57.000000001) off the next rank.
	rank := uint64(math.Ceil(q*float64(n) - 1e-9))
	return min(max(rank, 1), n)
}
