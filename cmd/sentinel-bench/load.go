package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sentinel-gw/sentinel/internal/benchtool"
)

// loadOutcome is what the throughput and rate modes measured.
type loadOutcome struct {
	baseline, sentinel       *benchtool.Result
	sentinelRSS, baselineRSS uint64
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

	measure := func(label string, t benchtool.Target) (*benchtool.Result, error) {
		clients, err := benchtool.NewClients(o.client, t, o.conns)
		if err != nil {
			return nil, err
		}
		defer clients.Close()
		return measureLoop(ctx, clients, label, o, o.mode == "rate", w)
	}
	out := &loadOutcome{}
	// Both get the token, so the requests are byte for byte the same size.
	if out.baseline, err = measure("baseline", benchtool.Target{URL: base.url, Token: srv.token}); err != nil {
		return nil, err
	}
	if out.sentinel, err = measure("sentinel", benchtool.Target{URL: srv.url, Token: srv.token}); err != nil {
		return nil, err
	}
	if err := benchtool.WriteRatio(w, out.sentinel, out.baseline); err != nil {
		return nil, err
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
