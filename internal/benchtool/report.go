package benchtool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Ms formats d in milliseconds with microsecond precision: "0.123 ms".
func Ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64) + " ms"
}

// MB formats a byte count in mebibytes: "23.4 MB".
func MB(b uint64) string {
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MB"
}

// WriteResult prints one measurement as a block of aligned lines.
func WriteResult(w io.Writer, r *Result) error {
	var b strings.Builder
	c := r.Config
	if r.Mode == "open" {
		fmt.Fprintf(&b, "== %s: open loop at %.0f req/s, %d connections, %s after %s warm-up\n", r.Label, c.Rate, c.Conns, c.Duration, c.Warmup)
	} else {
		fmt.Fprintf(&b, "== %s: closed loop, %d keep-alive connections, %s after %s warm-up\n", r.Label, c.Conns, c.Duration, c.Warmup)
	}
	fmt.Fprintf(&b, "  throughput   %.0f req/s (%d OK of %d requests)\n", r.Throughput(), r.OK, r.Requests)
	latencyNote := ""
	if r.Mode == "open" {
		latencyNote = "   (from the scheduled send time)"
	}
	fmt.Fprintf(&b, "  latency      %s%s\n", percentiles(&r.Latency), latencyNote)
	if r.Mode == "open" {
		fmt.Fprintf(&b, "  service      %s   (from the actual send)\n", percentiles(&r.Service))
		fmt.Fprintf(&b, "  send lag     p99 %s   max %s   (load generator behind schedule)\n", Ms(r.Lateness.Quantile(0.99)), Ms(r.Lateness.Max()))
	}
	fmt.Fprintf(&b, "  errors       %s\n", errorSummary(r))
	_, err := io.WriteString(w, b.String())
	return err
}

func percentiles(h *Histogram) string {
	return fmt.Sprintf("p50 %s   p99 %s   p99.9 %s   max %s",
		Ms(h.Quantile(0.50)), Ms(h.Quantile(0.99)), Ms(h.Quantile(0.999)), Ms(h.Max()))
}

// errorSummary is "0", or the count with its breakdown by status and the first transport error.
func errorSummary(r *Result) string {
	if r.Errors == 0 {
		return "0"
	}
	var parts []string
	codes := make([]int, 0, len(r.Statuses))
	for code := range r.Statuses {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		parts = append(parts, fmt.Sprintf("HTTP %d: %d", code, r.Statuses[code]))
	}
	if r.TransportErrors > 0 {
		parts = append(parts, fmt.Sprintf("transport: %d, first: %s", r.TransportErrors, r.FirstError))
	}
	return fmt.Sprintf("%d (%s)", r.Errors, strings.Join(parts, "; "))
}

// WriteRatio prints the sentinel/baseline throughput ratio and the latency
// ratios at p50 and p99.
func WriteRatio(w io.Writer, sentinel, baseline *Result) error {
	ratio := func(a, b float64) string {
		if b == 0 {
			return "n/a"
		}
		return strconv.FormatFloat(a/b, 'f', 2, 64) + "x"
	}
	_, err := fmt.Fprintf(w, "== ratio %s/%s\n  throughput   %s\n  p50 latency  %s\n  p99 latency  %s\n",
		sentinel.Label, baseline.Label,
		ratio(sentinel.Throughput(), baseline.Throughput()),
		ratio(float64(sentinel.Latency.Quantile(0.5)), float64(baseline.Latency.Quantile(0.5))),
		ratio(float64(sentinel.Latency.Quantile(0.99)), float64(baseline.Latency.Quantile(0.99))))
	return err
}

// WriteSummary prints a spread over rounds: "label  n=20  min ..  p50 ..  p99 ..  max ..".
func WriteSummary(w io.Writer, label string, s Summary) error {
	_, err := fmt.Fprintf(w, "  %-28s n=%d   min %s   p50 %s   p99 %s   max %s\n", label, s.N, Ms(s.Min), Ms(s.P50), Ms(s.P99), Ms(s.Max))
	return err
}

// ParseVmHWM reads the peak resident set size, in bytes, from the text of /proc/<pid>/status.
func ParseVmHWM(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmHWM line %q", sc.Text())
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected VmHWM line %q", sc.Text())
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmHWM line")
}
