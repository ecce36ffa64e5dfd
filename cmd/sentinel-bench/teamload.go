package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sentinel-gw/sentinel/internal/benchtool"
)

// teamLoadOutcome is what the throughput and rate modes measured with -broker.
type teamLoadOutcome struct {
	baseline, solo, broker *benchtool.Result
	// Peak RSS: the broker process, the exec process in front of it, the solo exec.
	brokerRSS, execRSS, soloRSS uint64
}

// runTeamLoad measures, with the same client and load, the baseline, a solo
// `exec --server` on the run's store, and `exec --server --broker` as the
// user (each request forwarded to the broker over HTTPS), and prints each,
// the ratios and what the broker adds at p50 and p99.
func runTeamLoad(ctx context.Context, sb *sandbox, self string, o options, w io.Writer) (*teamLoadOutcome, error) {
	viaBroker, err := sb.startServer(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = viaBroker.stop() }()
	solo, err := sb.startServerWith(ctx, serverExtras{solo: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = solo.stop() }()
	body, err := fetchBody(ctx, viaBroker.url, viaBroker.token)
	if err != nil {
		return nil, fmt.Errorf("first request through the broker: %w\n%s\nbroker:\n%s", err, viaBroker.stderr.String(), sb.team.out.String())
	}
	if _, err := fetchBody(ctx, solo.url, solo.token); err != nil {
		return nil, fmt.Errorf("first request to the solo server: %w\n%s", err, solo.stderr.String())
	}
	base, err := startBaseline(ctx, self, sb.dir, body)
	if err != nil {
		return nil, err
	}
	defer base.stop()
	fmt.Fprintf(w, "broker %s (pid %d); exec --server --broker ready in %s (pid %d), solo exec --server in %s (pid %d); response body %d bytes (the broker's, also served by the baseline)\n",
		sb.team.url, sb.team.pid(), benchtool.Ms(viaBroker.startup), viaBroker.pid(), benchtool.Ms(solo.startup), solo.pid(), len(body))

	cfg := benchtool.LoadConfig{Conns: o.conns, Warmup: o.warmup, Duration: o.duration, Rate: o.rate}
	measure := func(label string, s *server) (*benchtool.Result, error) {
		clients, err := benchtool.NewClients(o.client, benchtool.Target{URL: s.url, Token: s.token}, o.conns)
		if err != nil {
			return nil, err
		}
		defer clients.Close()
		var r *benchtool.Result
		if o.mode == "rate" {
			r, err = benchtool.OpenLoop(ctx, clients, label, cfg)
		} else {
			r, err = benchtool.ClosedLoop(ctx, clients, label, cfg)
		}
		if err != nil {
			return nil, err
		}
		return r, benchtool.WriteResult(w, r)
	}
	out := &teamLoadOutcome{}
	// The baseline gets the broker server's token, so every request is the same size.
	if out.baseline, err = measure("baseline", &server{url: base.url, token: viaBroker.token}); err != nil {
		return nil, err
	}
	if out.solo, err = measure("solo", solo); err != nil {
		return nil, err
	}
	if out.broker, err = measure("broker", viaBroker); err != nil {
		return nil, err
	}
	for _, r := range []*benchtool.Result{out.solo, out.broker} {
		if err := benchtool.WriteRatio(w, r, out.baseline); err != nil {
			return nil, err
		}
	}
	if err := benchtool.WriteRatio(w, out.broker, out.solo); err != nil {
		return nil, err
	}
	added := func(q float64) string {
		return fmt.Sprintf("%+.3f ms", float64(out.broker.Latency.Quantile(q)-out.solo.Latency.Quantile(q))/float64(time.Millisecond))
	}
	fmt.Fprintf(w, "== added by --broker (broker minus solo, same load)\n  p50 latency  %s\n  p99 latency  %s\n", added(0.5), added(0.99))
	for _, rss := range []struct {
		into *uint64
		pid  int
	}{{&out.brokerRSS, sb.team.pid()}, {&out.execRSS, viaBroker.pid()}, {&out.soloRSS, solo.pid()}} {
		if *rss.into, err = readPeakRSS(rss.pid); err != nil {
			return nil, fmt.Errorf("peak RSS of pid %d: %w", rss.pid, err)
		}
	}
	_, err = fmt.Fprintf(w, "== memory (VmHWM, peak resident set)\n  broker       %s   (sentinel serve)\n  exec --broker %s  (the user's exec --server in front of it)\n  solo exec    %s\n",
		benchtool.MB(out.brokerRSS), benchtool.MB(out.execRSS), benchtool.MB(out.soloRSS))
	if err != nil {
		return nil, err
	}
	if err := viaBroker.stop(); err != nil {
		return nil, err
	}
	return out, solo.stop()
}
