package benchtool

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// Every value lands in a bucket whose upper edge is at most 1/128 above it.
func TestBucketPrecision(t *testing.T) {
	values := []uint64{0, 1, 127, 128, 255, 256, 257, 511, 512, 1000, 12345, 1 << 20, 999_999_999, 1 << 40, 1<<63 - 1}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		values = append(values, rng.Uint64N(1<<40))
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= bucketCount {
			t.Fatalf("bucketOf(%d) = %d, outside 0..%d", v, i, bucketCount-1)
		}
		high := bucketHigh(i)
		if high < v {
			t.Fatalf("bucketHigh(bucketOf(%d)) = %d, below the value", v, high)
		}
		if float64(high-v) > float64(v)/subBucketCount {
			t.Fatalf("bucket of %d reaches %d: more than 1/%d above", v, high, subBucketCount)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Fatalf("value %d also fits the previous bucket (high %d)", v, bucketHigh(i-1))
		}
	}
}

// Quantiles agree with the exact nearest-rank percentiles of the same sample within the histogram's precision.
func TestQuantileMatchesSortedSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var h Histogram
	var sample []time.Duration
	for range 50000 {
		// A long-tailed mix: mostly ~100µs, some milliseconds.
		d := time.Duration(50_000 + rng.ExpFloat64()*100_000)
		if rng.IntN(100) == 0 {
			d += time.Duration(rng.IntN(20)) * time.Millisecond
		}
		h.Record(d)
		sample = append(sample, d)
	}
	slices.Sort(sample)
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
		want := sample[quantileRank(q, uint64(len(sample)))-1]
		got := h.Quantile(q)
		if got < want || float64(got-want) > float64(want)/subBucketCount {
			t.Errorf("Quantile(%v) = %v, exact %v: outside [exact, exact+1/%d]", q, got, want, subBucketCount)
		}
	}
	if h.Min() != sample[0] || h.Max() != sample[len(sample)-1] {
		t.Errorf("Min/Max = %v/%v, want %v/%v", h.Min(), h.Max(), sample[0], sample[len(sample)-1])
	}
	if h.Count() != uint64(len(sample)) {
		t.Errorf("Count = %d, want %d", h.Count(), len(sample))
	}
}

func TestQuantileSmallSets(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one value", []time.Duration{100}, 0.99, 100},
		{"median of four is the second", []time.Duration{10, 20, 30, 40}, 0.5, 20},
		{"p99 of four is the max", []time.Duration{10, 20, 30, 40}, 0.99, 40},
		{"negative counts as zero", []time.Duration{-5, 10}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tc.values {
				h.Record(v)
			}
			if got := h.Quantile(tc.q); got != tc.want {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestMergeEqualsRecordingAll(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i*i) * time.Microsecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var merged Histogram
	merged.Merge(&a)
	merged.Merge(&b)
	merged.Merge(&Histogram{}) // an empty one changes nothing
	if merged != all {
		t.Fatalf("merged histogram differs: count %d/%d, min %v/%v, max %v/%v, mean %v/%v",
			merged.Count(), all.Count(), merged.Min(), all.Min(), merged.Max(), all.Max(), merged.Mean(), all.Mean())
	}
}

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		values []time.Duration
		want   Summary
	}{
		{"empty", nil, Summary{}},
		{"negative values keep their sign", []time.Duration{3 * ms, -1 * ms, 2 * ms}, Summary{N: 3, Min: -ms, P50: 2 * ms, P99: 3 * ms, Max: 3 * ms}},
		{"twenty rounds: p99 is the max, p50 the tenth", func() []time.Duration {
			var v []time.Duration
			for i := 20; i >= 1; i-- {
				v = append(v, time.Duration(i)*ms)
			}
			return v
		}(), Summary{N: 20, Min: ms, P50: 10 * ms, P99: 20 * ms, Max: 20 * ms}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.values)
			if got := Summarize(tc.values); got != tc.want {
				t.Errorf("Summarize = %+v, want %+v", got, tc.want)
			}
			if !slices.Equal(in, tc.values) {
				t.Error("Summarize reordered its input")
			}
		})
	}
}
