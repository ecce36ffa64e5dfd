package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/sentinel-gw/sentinel/internal/benchtool"
)

// loadOutcome is what the throughput and rate modes measured.
type loadOutcome struct {
	baseline, sentinel       *benchtool.Result
	sentinelRSS, baselineRSS uint64
	// sentinelCPU and baselineCPU are each server's CPU time (user and
	// system) over its measured window.
	sentinelCPU, baselineCPU time.Duration
	// ratios is sentinel/baseline throughput, one per pair of windows.
	ratios []float64
}

// runLoad measures the baseline, then sentinel, with the same client and
// load, and prints both, their ratio and the peak RSS of each process.
func runLoad(ctx context.Context, sb *sandbox, self string, o options, w io.Writer) (*loadOutcome, error) {
	srv, err := sb.startServer(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = srv.stop() }()
	body, err := fetchBody(ctx, srv.url, srv.token)
	if err != nil {
		return nil, fmt.Errorf("first request to sentinel: %w\n%s", err, srv.stderr.String())
	}
	base, err := startBaseline(ctx, self, sb.dir, body)
	if err != nil {
		return nil, err
	}
	defer base.stop()
	fmt.Fprintf(w, "sentinel exec --server ready in %s (pid %d); response body %d bytes, served by both\n",
		benchtool.Ms(srv.startup), srv.pid(), len(body))

	measure := func(label string, t benchtool.Target, pid int) (*benchtool.Result, time.Duration, error) {
		clients, err := benchtool.NewClients(o.client, t, o.conns)
		if err != nil {
			return nil, 0, err
		}
		defer clients.Close()
		cpu := cpuOverWindow(pid, o.warmup)
		res, err := measureLoop(ctx, clients, label, o, o.mode == "rate", w)
		if err != nil {
			return nil, 0, err
		}
		used, err := cpu()
		return res, used, err
	}
	out := &loadOutcome{}
	// Closed loop: -pairs alternating windows, as on a shared machine the
	// load of others drifts; the first pair's figures are kept in full.
	pairs := 1
	if o.mode == "throughput" {
		pairs = max(1, o.pairs)
	}
	for i := range pairs {
		var p loadOutcome
		// Both get the token, so the requests are byte for byte the same size.
		if p.baseline, p.baselineCPU, err = measure("baseline", benchtool.Target{URL: base.url, Token: srv.token}, base.cmd.Process.Pid); err != nil {
			return nil, err
		}
		if p.sentinel, p.sentinelCPU, err = measure("sentinel", benchtool.Target{URL: srv.url, Token: srv.token}, srv.pid()); err != nil {
			return nil, err
		}
		if err := benchtool.WriteRatio(w, p.sentinel, p.baseline); err != nil {
			return nil, err
		}
		if err := writeCPU(w, &p); err != nil {
			return nil, err
		}
		if p.baseline.Throughput() > 0 {
			out.ratios = append(out.ratios, p.sentinel.Throughput()/p.baseline.Throughput())
		}
		if i == 0 {
			out.baseline, out.sentinel, out.baselineCPU, out.sentinelCPU = p.baseline, p.sentinel, p.baselineCPU, p.sentinelCPU
		}
	}
	if pairs > 1 {
		writeMedianRatio(w, "sentinel/baseline", out.ratios)
	}
	if out.sentinelRSS, err = readPeakRSS(srv.pid()); err != nil {
		return nil, fmt.Errorf("sentinel peak RSS: %w", err)
	}
	if out.baselineRSS, err = readPeakRSS(base.cmd.Process.Pid); err != nil {
		return nil, fmt.Errorf("baseline peak RSS: %w", err)
	}
	_, err = fmt.Fprintf(w, "== memory (VmHWM, peak resident set)\n  sentinel     %s   (the exec process; its idle child not counted)\n  baseline     %s\n",
		benchtool.MB(out.sentinelRSS), benchtool.MB(out.baselineRSS))
	if err != nil {
		return nil, err
	}
	if err := srv.stop(); err != nil {
		return nil, err
	}
	return out, nil
}

// measureLoop runs one measured window of o's load on clients (open loop
// at o.rate when open, else closed) and prints its result.
func measureLoop(ctx context.Context, clients *benchtool.Clients, label string, o options, open bool, w io.Writer) (*benchtool.Result, error) {
	cfg := benchtool.LoadConfig{Conns: o.conns, Warmup: o.warmup, Duration: o.duration, Rate: o.rate}
	run := benchtool.ClosedLoop
	if open {
		run = benchtool.OpenLoop
	}
	r, err := run(ctx, clients, label, cfg)
	if err != nil {
		return nil, err
	}
	return r, benchtool.WriteResult(w, r)
}

// fetchBody makes one request to sentinel and returns the 200 body, which
// the baseline then serves unchanged.
func fetchBody(ctx context.Context, url, token string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return body, nil
}

// cpuOverWindow reads pid's CPU time once warmup has passed; the returned
// func reads it again and returns the CPU used in between: the server's
// cost over the measured window, which a loaded machine slows but does not
// inflate the way it inflates latency.
func cpuOverWindow(pid int, warmup time.Duration) func() (time.Duration, error) {
	type reading struct {
		d   time.Duration
		err error
	}
	start := make(chan reading, 1)
	time.AfterFunc(warmup, func() {
		d, err := readCPU(pid)
		start <- reading{d, err}
	})
	return func() (time.Duration, error) {
		end, err := readCPU(pid)
		s := <-start
		if err == nil {
			err = s.err
		}
		return end - s.d, err
	}
}

func readCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return benchtool.ParseProcCPU(string(data))
}

// writeCPU prints each server's CPU time per request over its window.
func writeCPU(w io.Writer, out *loadOutcome) error {
	per := func(cpu time.Duration, r *benchtool.Result) float64 {
		if r.Requests == 0 {
			return 0
		}
		return float64(cpu.Microseconds()) / float64(r.Requests)
	}
	s, b := per(out.sentinelCPU, out.sentinel), per(out.baselineCPU, out.baseline)
	ratio := 0.0
	if s > 0 {
		ratio = b / s
	}
	_, err := fmt.Fprintf(w, "== server CPU per request (user+system over the measured window, 10 ms ticks)\n  sentinel     %.1f µs   (%s for %d requests)\n  baseline     %.1f µs   (%s for %d requests)\n  baseline/sentinel  %.2fx\n",
		s, out.sentinelCPU, out.sentinel.Requests, b, out.baselineCPU, out.baseline.Requests, ratio)
	return err
}

// writeMedianRatio prints the median, min and max of per-pair throughput
// ratios of what (for example "sentinel/baseline").
func writeMedianRatio(w io.Writer, what string, ratios []float64) {
	if len(ratios) == 0 {
		return
	}
	sorted := slices.Sorted(slices.Values(ratios))
	fmt.Fprintf(w, "== %s throughput over %d alternating pairs\n  median %.2fx   min %.2fx   max %.2fx\n",
		what, len(sorted), sorted[len(sorted)/2], sorted[0], sorted[len(sorted)-1])
}
