package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/sentinel-gw/sentinel/internal/benchtool"
)

// teamLoadOutcome is what the throughput and rate modes measured with -broker.
type teamLoadOutcome struct {
	baseline, solo, broker *benchtool.Result // solo and broker: the last pair
	// added is broker minus solo per pair: latency p50, p99, service p50, p99.
	added [][4]time.Duration
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

	measure := func(label string, s *server) (*benchtool.Result, error) {
		clients, err := benchtool.NewClients(o.client, benchtool.Target{URL: s.url, Token: s.token}, o.conns)
		if err != nil {
			return nil, err
		}
		defer clients.Close()
		return measureLoop(ctx, clients, label, o, o.mode == "rate", w)
	}
	out := &teamLoadOutcome{}
	// The baseline gets the broker server's token, so every request is the same size.
	if out.baseline, err = measure("baseline", &server{url: base.url, token: viaBroker.token}); err != nil {
		return nil, err
	}
	// Alternating solo/broker pairs: on a shared machine the load of others
	// drifts; each pair's difference is measured over the same few seconds.
	for range max(o.pairs, 1) {
		if out.solo, err = measure("solo", solo); err != nil {
			return nil, err
		}
		if out.broker, err = measure("broker", viaBroker); err != nil {
			return nil, err
		}
		if err := benchtool.WriteRatio(w, out.broker, out.solo); err != nil {
			return nil, err
		}
		d := addedLatency(out.solo, out.broker)
		out.added = append(out.added, d)
		fmt.Fprintf(w, "== added by --broker in this pair (broker minus solo)\n  latency      p50 %s   p99 %s\n  service      p50 %s   p99 %s   (from the actual send)\n",
			signedMs(d[0]), signedMs(d[1]), signedMs(d[2]), signedMs(d[3]))
	}
	if err := benchtool.WriteRatio(w, out.solo, out.baseline); err != nil {
		return nil, err
	}
	if err := benchtool.WriteRatio(w, out.broker, out.baseline); err != nil {
		return nil, err
	}
	m := medianAdded(out.added)
	fmt.Fprintf(w, "== added by --broker, median over %d pairs\n  latency      p50 %s   p99 %s\n  service      p50 %s   p99 %s   (from the actual send)\n",
		len(out.added), signedMs(m[0]), signedMs(m[1]), signedMs(m[2]), signedMs(m[3]))
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

// addedLatency is broker minus solo: latency p50 and p99, service p50 and p99.
func addedLatency(solo, broker *benchtool.Result) [4]time.Duration {
	return [4]time.Duration{
		broker.Latency.Quantile(0.5) - solo.Latency.Quantile(0.5),
		broker.Latency.Quantile(0.99) - solo.Latency.Quantile(0.99),
		broker.Service.Quantile(0.5) - solo.Service.Quantile(0.5),
		broker.Service.Quantile(0.99) - solo.Service.Quantile(0.99),
	}
}

// medianAdded is each figure's median over the pairs (the upper one of two).
func medianAdded(pairs [][4]time.Duration) [4]time.Duration {
	var m [4]time.Duration
	for i := range m {
		col := make([]time.Duration, 0, len(pairs))
		for _, p := range pairs {
			col = append(col, p[i])
		}
		slices.Sort(col)
		if len(col) > 0 {
			m[i] = col[len(col)/2]
		}
	}
	return m
}

func signedMs(d time.Duration) string {
	return fmt.Sprintf("%+.3f ms", float64(d)/float64(time.Millisecond))
}
