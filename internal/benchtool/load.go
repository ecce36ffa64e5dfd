package benchtool

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// LoadConfig shapes one measurement.
type LoadConfig struct {
	// Conns is the number of kept-alive connections, one worker each.
	Conns int
	// Warmup runs before the measured window; its requests are not counted.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// Rate, for OpenLoop, is the total request rate in requests per second.
	Rate float64
}

func (c LoadConfig) check(open bool) error {
	switch {
	case c.Conns < 1:
		return errors.New("need at least one connection")
	case c.Warmup < 0 || c.Duration <= 0:
		return errors.New("need a positive duration and a non-negative warm-up")
	case open && c.Rate <= 0:
		return errors.New("need a positive rate")
	}
	return nil
}

// Result is one measured window against one server.
type Result struct {
	// Label names the server ("sentinel", "baseline").
	Label string
	// Mode is "closed" (each connection sends as fast as answers come) or "open" (fixed rate).
	Mode   string
	Config LoadConfig
	// Elapsed is the measured window.
	Elapsed time.Duration
	// Requests is every request in the window that got an answer or failed.
	Requests uint64
	// OK counts 200 responses; Errors counts everything else.
	OK, Errors uint64
	// Statuses counts the non-200 responses by status code.
	Statuses map[int]uint64
	// TransportErrors counts requests that got no response.
	TransportErrors uint64
	// FirstError is the first transport error's text, for the report.
	FirstError string
	// Latency is per request: from the send (closed loop) or from the
	// scheduled send time (open loop, so a stalled server cannot hide the
	// requests it delayed: no coordinated omission).
	Latency Histogram
	// Service (open loop) is from the actual send to the response.
	Service Histogram
	// Lateness (open loop) is how far behind schedule sends went out: the
	// load generator's own lag, which Latency includes.
	Lateness Histogram
}

// Throughput is 200 responses per second over the measured window.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// worker is one connection's tally, merged at the end so workers never contend.
type worker struct {
	Result
}

func (w *worker) count(status int, err error) {
	w.Requests++
	switch {
	case err != nil:
		w.Errors++
		w.TransportErrors++
		if w.FirstError == "" {
			w.FirstError = err.Error()
		}
	case status == http.StatusOK:
		w.OK++
	default:
		w.Errors++
		if w.Statuses == nil {
			w.Statuses = map[int]uint64{}
		}
		w.Statuses[status]++
	}
}

func (r *Result) merge(w *worker) {
	r.Requests += w.Requests
	r.OK += w.OK
	r.Errors += w.Errors
	r.TransportErrors += w.TransportErrors
	if r.FirstError == "" {
		r.FirstError = w.FirstError
	}
	for code, n := range w.Statuses {
		if r.Statuses == nil {
			r.Statuses = map[int]uint64{}
		}
		r.Statuses[code] += n
	}
	r.Latency.Merge(&w.Latency)
	r.Service.Merge(&w.Service)
	r.Lateness.Merge(&w.Lateness)
}

// transportBackoff keeps a worker whose server is gone from spinning on dial errors.
const transportBackoff = time.Millisecond

// ClosedLoop runs cfg.Conns workers, each sending its next request as soon
// as the previous one is answered, for the warm-up and then the measured
// window. A request counts when it was sent inside the window.
func ClosedLoop(ctx context.Context, clients *Clients, label string, cfg LoadConfig) (*Result, error) {
	if err := cfg.check(false); err != nil {
		return nil, err
	}
	start := time.Now()
	from, end := start.Add(cfg.Warmup), start.Add(cfg.Warmup+cfg.Duration)
	workers := make([]*worker, cfg.Conns)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{}
		workers[i] = w
		wg.Go(func() {
			d := clients.New()
			defer func() { _ = d.Close() }()
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				status, err := d.Get()
				t1 := time.Now()
				if err != nil {
					time.Sleep(transportBackoff)
				}
				if t0.Before(from) {
					continue
				}
				w.count(status, err)
				w.Latency.Record(t1.Sub(t0))
			}
		})
	}
	wg.Wait()
	return collect(ctx, label, "closed", cfg, workers)
}

// OpenLoop sends cfg.Rate requests per second on a fixed schedule: request
// i is due at start + i/Rate and goes to worker i mod Conns. Latency runs
// from the due time, so time a request spent waiting behind a slow one counts.
func OpenLoop(ctx context.Context, clients *Clients, label string, cfg LoadConfig) (*Result, error) {
	if err := cfg.check(true); err != nil {
		return nil, err
	}
	start := time.Now()
	from, end := start.Add(cfg.Warmup), start.Add(cfg.Warmup+cfg.Duration)
	interval := float64(time.Second) / cfg.Rate
	workers := make([]*worker, cfg.Conns)
	var wg sync.WaitGroup
	for k := range workers {
		w := &worker{}
		workers[k] = w
		wg.Go(func() {
			d := clients.New()
			defer func() { _ = d.Close() }()
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for i := k; ctx.Err() == nil; i += cfg.Conns {
				due := start.Add(time.Duration(float64(i) * interval))
				if !due.Before(end) {
					return
				}
				if wait := time.Until(due); wait > 0 {
					timer.Reset(wait)
					select {
					case <-timer.C:
					case <-ctx.Done():
						return
					}
				}
				t0 := time.Now()
				status, err := d.Get()
				t1 := time.Now()
				if due.Before(from) {
					continue
				}
				w.count(status, err)
				w.Latency.Record(t1.Sub(due))
				w.Service.Record(t1.Sub(t0))
				w.Lateness.Record(t0.Sub(due))
			}
		})
	}
	wg.Wait()
	return collect(ctx, label, "open", cfg, workers)
}

func collect(ctx context.Context, label, mode string, cfg LoadConfig, workers []*worker) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: interrupted: %w", label, err)
	}
	r := &Result{Label: label, Mode: mode, Config: cfg, Elapsed: cfg.Duration}
	for _, w := range workers {
		r.merge(w)
	}
	return r, nil
}
