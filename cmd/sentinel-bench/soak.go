package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sentinel-gw/sentinel/internal/benchtool"
)

// Soak defaults, used when the flag is not given with -mode soak.
const (
	soakDuration = 60 * time.Second
	soakRate     = 2000
	soakChurn    = 5 * time.Second
	// soakChurned is how many revocable sessions are live beside the long-lived one.
	soakChurned = 2
	// soakFirstSample is when memory is first read: past start-up and the
	// first allocations, so growth after it is what a leak would show.
	soakFirstSample = 10 * time.Second
	// soakSampleEvery paces the progress lines.
	soakSampleEvery = 10 * time.Second
	// soakSchedTrace is the runtime's dump interval on the long-lived server,
	// in milliseconds: a goroutine count at most this old at each sample.
	soakSchedTrace = 1000
	// retireWait bounds the wait for requests in flight to a retired server.
	retireWait = 15 * time.Second
)

// soakServer is one session of the soak and what it served.
type soakServer struct {
	*server
	clients   *benchtool.Clients
	longLived bool
	// revoking is set before server-revoke starts: a 403 is expected from then on.
	revoking atomic.Bool
	// retired is set when the server leaves the pool; no new request starts then.
	retired  atomic.Bool
	inflight atomic.Int64
	ok       atomic.Int64

	mu       sync.Mutex
	okSends  []time.Time // send times of 200s served once revoking was set
	returned time.Time   // when server-revoke returned; zero until then
	// atRevoke is the process's status just before its revoke.
	atRevoke benchtool.ProcStatus
}

func (s *soakServer) served(sent time.Time) {
	s.ok.Add(1)
	if s.revoking.Load() {
		s.mu.Lock()
		s.okSends = append(s.okSends, sent)
		s.mu.Unlock()
	}
}

func (s *soakServer) servedAfterRevoke() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.okSends {
		if !s.returned.IsZero() && t.After(s.returned) {
			n++
		}
	}
	return n
}

// soakSample is the long-lived server seen from outside at one moment.
type soakSample struct {
	at         time.Duration // since the load began
	status     benchtool.ProcStatus
	goroutines int // -1 when no complete runtime dump had arrived yet
	requests   int64
}

// soakOutcome is what the soak found.
type soakOutcome struct {
	requests, ok, expectedRefusals int64
	unexpected                     []string
	unexpectedCount                int64
	servedAfterRevoke              int
	started, revoked               int
	revokeCommand                  []time.Duration
	latency, lateness              benchtool.Histogram
	elapsed                        time.Duration
	longLivedPID                   int
	samples                        []soakSample
	first, last                    soakSample
	churnedAtRevoke                []benchtool.ProcStatus
	mismatches                     []string
}

// soakPool is the set of servers requests go to.
type soakPool struct {
	live atomic.Pointer[[]*soakServer]
	mu   sync.Mutex
	all  []*soakServer
}

func (p *soakPool) snapshot() []*soakServer { return *p.live.Load() }

func (p *soakPool) set(live []*soakServer) { p.live.Store(&live) }

// soakWorker is one connection slot's tally, merged at the end.
type soakWorker struct {
	latency, lateness benchtool.Histogram
	requests, ok      int64
	refusals          int64
}

func runSoak(ctx context.Context, sb *sandbox, o options, w io.Writer) (*soakOutcome, error) {
	fmt.Fprintf(w, "== soak: %s open loop at %.0f req/s over %d connections per server; 1 long-lived session (never revoked) + %d churned sessions; every %s the oldest churned one is revoked by a separate 'sentinel server-revoke' and a new one started\n",
		o.duration, o.rate, o.conns, o.servers, o.churn)
	pool := &soakPool{}
	pool.set(nil)
	var stopOnce sync.Once
	stopAll := func() error {
		var errs []error
		stopOnce.Do(func() {
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, s := range pool.all {
				wg.Go(func() {
					if err := s.stop(); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
					s.clients.Close()
				})
			}
			wg.Wait()
		})
		return errors.Join(errs...)
	}
	defer func() { _ = stopAll() }()

	trace := &benchtool.GoroutineTrace{}
	start := func(longLived bool) (*soakServer, error) {
		var extras serverExtras
		if longLived {
			// The runtime lists every goroutine on stderr each second, so the
			// count is read from outside with no hook in sentinel.
			extras = serverExtras{env: []string{"GODEBUG=schedtrace=" + strconv.Itoa(soakSchedTrace) + ",scheddetail=1"}, onLine: trace.Line}
		}
		srv, err := sb.startServerWith(ctx, extras)
		if err != nil {
			return nil, err
		}
		clients, err := benchtool.NewClients(o.client, benchtool.Target{URL: srv.url, Token: srv.token}, o.conns)
		if err != nil {
			_ = srv.stop()
			return nil, err
		}
		s := &soakServer{server: srv, clients: clients, longLived: longLived}
		pool.mu.Lock()
		pool.all = append(pool.all, s)
		pool.mu.Unlock()
		return s, nil
	}
	anchor, err := start(true)
	if err != nil {
		return nil, err
	}
	live := []*soakServer{anchor}
	for range o.servers {
		s, err := start(false)
		if err != nil {
			return nil, err
		}
		live = append(live, s)
	}
	pool.set(live)

	out := &soakOutcome{longLivedPID: anchor.pid()}
	var unexpected errorTally
	var requests atomic.Int64
	begin := time.Now()
	end := begin.Add(o.duration)
	interval := float64(time.Second) / o.rate
	workers := make([]*soakWorker, o.conns)
	// Connections stay open until the last sample, so it sees the servers
	// as the earlier ones did: connected, between requests.
	holdConns := make(chan struct{})
	releaseConns := sync.OnceFunc(func() { close(holdConns) })
	defer releaseConns()
	var wg, closed sync.WaitGroup
	for k := range workers {
		wk := &soakWorker{}
		workers[k] = wk
		doers := map[*soakServer]benchtool.Doer{}
		closed.Go(func() {
			<-holdConns
			wg.Wait()
			for _, d := range doers {
				_ = d.Close()
			}
		})
		wg.Go(func() {
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			turn := k
			for i := k; ctx.Err() == nil; i += o.conns {
				due := begin.Add(time.Duration(float64(i) * interval))
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
				s := pickServer(pool, &turn)
				d, found := doers[s]
				if !found {
					d = s.clients.New()
					doers[s] = d
				}
				sent := time.Now()
				status, err := d.Get()
				done := time.Now()
				s.inflight.Add(-1)
				requests.Add(1)
				wk.requests++
				wk.latency.Record(done.Sub(due))
				wk.lateness.Record(sent.Sub(due))
				switch {
				case err != nil:
					unexpected.add("transport error: " + err.Error())
					time.Sleep(transportPause)
				case status == http.StatusOK:
					wk.ok++
					s.served(sent)
				case status == http.StatusForbidden && s.revoking.Load():
					wk.refusals++
				default:
					unexpected.add(fmt.Sprintf("HTTP %d from a session not being revoked", status))
				}
				// Drop connections to servers that have left the pool.
				if len(doers) > len(pool.snapshot()) {
					for srv, d := range doers {
						if srv.retired.Load() {
							_ = d.Close()
							delete(doers, srv)
						}
					}
				}
			}
		})
	}
	loadDone := make(chan struct{})
	go func() { wg.Wait(); close(loadDone) }()

	sample := func() soakSample {
		st, err := benchtool.ReadProcStatus(anchor.pid())
		if err != nil {
			st = benchtool.ProcStatus{FDs: -1}
		}
		n, ok := trace.Goroutines()
		if !ok {
			n = -1
		}
		return soakSample{at: time.Since(begin), status: st, goroutines: n, requests: requests.Load()}
	}
	record := func(sm soakSample) {
		out.samples = append(out.samples, sm)
		fmt.Fprintf(w, "  t=%-6s long-lived pid %d: RSS %s   peak %s   threads %d   goroutines %s   open fds %d   requests so far %d\n",
			sm.at.Round(time.Second), anchor.pid(), benchtool.MB(sm.status.RSS), benchtool.MB(sm.status.PeakRSS),
			sm.status.Threads, goroutineText(sm.goroutines), sm.status.FDs, sm.requests)
	}
	var retiring sync.WaitGroup
	var retireMu sync.Mutex
	var retireErrs []error
	retire := func(s *soakServer) {
		retiring.Go(func() {
			if err := retireServer(s); err != nil {
				retireMu.Lock()
				retireErrs = append(retireErrs, err)
				retireMu.Unlock()
			}
		})
	}

	churnErr := churnSoak(ctx, sb, o, pool, start, retire, begin, loadDone, sample, record, out)
	<-loadDone
	if churnErr != nil {
		return nil, churnErr
	}
	out.elapsed = time.Since(begin)
	// A runtime dump taken after the last request, connections still open.
	time.Sleep(soakSchedTrace*time.Millisecond + 200*time.Millisecond)
	out.last = sample()
	record(out.last)
	releaseConns()
	closed.Wait()
	retiring.Wait()
	if err := errors.Join(retireErrs...); err != nil {
		return nil, err
	}
	if err := stopAll(); err != nil {
		return nil, err
	}

	records, err := sb.sessions(ctx)
	if err != nil {
		return nil, err
	}
	out.unexpected, out.unexpectedCount = unexpected.lines(), unexpected.total
	for _, wk := range workers {
		out.requests += wk.requests
		out.ok += wk.ok
		out.expectedRefusals += wk.refusals
		out.latency.Merge(&wk.latency)
		out.lateness.Merge(&wk.lateness)
	}
	out.started = len(pool.all)
	for _, s := range pool.all {
		out.servedAfterRevoke += s.servedAfterRevoke()
		if s.revoking.Load() {
			out.churnedAtRevoke = append(out.churnedAtRevoke, s.atRevoke)
		}
		rec, found := records[s.sessionID]
		switch {
		case !found:
			out.mismatches = append(out.mismatches, fmt.Sprintf("session %s: not in server-sessions; served %d", s.sessionID, s.ok.Load()))
		case rec.RequestCount != s.ok.Load():
			out.mismatches = append(out.mismatches, fmt.Sprintf("session %s (%s): request_count %d, served %d 200s", s.sessionID, rec.Status, rec.RequestCount, s.ok.Load()))
		}
	}
	return out, writeSoak(w, o, out)
}

// pickServer takes the next live server in turn and marks a request in
// flight to it; a server retired in between is skipped, so none is stopped
// under a request.
func pickServer(pool *soakPool, turn *int) *soakServer {
	for {
		servers := pool.snapshot()
		s := servers[*turn%len(servers)]
		*turn++
		s.inflight.Add(1)
		if !s.retired.Load() {
			return s
		}
		s.inflight.Add(-1)
	}
}

// retireServer waits for the requests in flight to it, then stops it.
func retireServer(s *soakServer) error {
	deadline := time.Now().Add(retireWait)
	for s.inflight.Load() > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("session %s: %d requests still in flight %s after it left the pool", s.sessionID, s.inflight.Load(), retireWait)
		}
		time.Sleep(time.Millisecond)
	}
	return s.stop()
}

// churnSoak samples the long-lived server and, every -churn, starts a new
// session, revokes the oldest churned one, and retires the one revoked the
// turn before (so clients keep asking a revoked session for one whole turn
// after its revoke returned).
func churnSoak(ctx context.Context, sb *sandbox, o options, pool *soakPool, start func(bool) (*soakServer, error),
	retire func(*soakServer), begin time.Time, loadDone <-chan struct{},
	sample func() soakSample, record func(soakSample), out *soakOutcome,
) error {
	churnTick := time.NewTicker(o.churn)
	defer churnTick.Stop()
	firstSample := time.NewTimer(min(soakFirstSample, o.duration/2))
	defer firstSample.Stop()
	sampler := time.NewTicker(soakSampleEvery)
	sampler.Stop() // started with the first sample
	defer sampler.Stop()
	var sampleTick <-chan time.Time
	for {
		select {
		case <-loadDone:
			if out.first.at == 0 {
				// A slow server start on a churn tick held the loop past
				// the first sample's time: take it now, late but real.
				out.first = sample()
				record(out.first)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-firstSample.C:
			out.first = sample()
			record(out.first)
			sampler.Reset(soakSampleEvery)
			sampleTick = sampler.C
			continue
		case <-sampleTick:
			record(sample())
			continue
		case <-churnTick.C:
		}
		if time.Until(begin.Add(o.duration)) < o.churn/2 {
			continue // too late in the run for a revoked session to be asked for long
		}
		fresh, err := start(false)
		if err != nil {
			return fmt.Errorf("starting a new session under load: %w", err)
		}
		var next []*soakServer
		var victim *soakServer
		for _, s := range pool.snapshot() {
			s.mu.Lock()
			gone := !s.returned.IsZero()
			s.mu.Unlock()
			if gone {
				s.retired.Store(true)
				retire(s)
				continue
			}
			next = append(next, s)
			if victim == nil && !s.longLived && !s.revoking.Load() {
				victim = s
			}
		}
		next = append(next, fresh)
		pool.set(next)
		if victim == nil {
			continue
		}
		if st, err := benchtool.ReadProcStatus(victim.pid()); err == nil {
			victim.atRevoke = st
		}
		victim.revoking.Store(true)
		rv, err := sb.revoke(ctx, victim.sessionID)
		if err != nil {
			return fmt.Errorf("revoking under load: %w", err)
		}
		victim.mu.Lock()
		victim.returned = rv.returned
		victim.mu.Unlock()
		out.revoked++
		out.revokeCommand = append(out.revokeCommand, rv.returned.Sub(rv.launched))
	}
}

func goroutineText(n int) string {
	if n < 0 {
		return "n/a"
	}
	return strconv.Itoa(n)
}

// growth is "+1.2%" from a to b.
func growth(a, b float64) string {
	if a == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", (b-a)/a*100)
}

func writeSoak(w io.Writer, o options, out *soakOutcome) error {
	fmt.Fprintf(w, "== soak results over %s\n", out.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  requests                                %d (200: %d, expected 403 from a session being revoked: %d)\n",
		out.requests, out.ok, out.expectedRefusals)
	fmt.Fprintf(w, "  achieved rate                           %.0f req/s (asked %.0f)\n", float64(out.requests)/out.elapsed.Seconds(), o.rate)
	fmt.Fprintf(w, "  latency                                 p50 %s   p99 %s   p99.9 %s   max %s   (from the scheduled send time)\n",
		benchtool.Ms(out.latency.Quantile(0.50)), benchtool.Ms(out.latency.Quantile(0.99)), benchtool.Ms(out.latency.Quantile(0.999)), benchtool.Ms(out.latency.Max()))
	fmt.Fprintf(w, "  send lag                                p99 %s   max %s   (load generator behind schedule)\n",
		benchtool.Ms(out.lateness.Quantile(0.99)), benchtool.Ms(out.lateness.Max()))
	fmt.Fprintf(w, "  unexpected errors                       %d\n", out.unexpectedCount)
	for _, line := range out.unexpected {
		fmt.Fprintf(w, "    %s\n", line)
	}
	fmt.Fprintf(w, "  200s sent after their revoke returned   %d\n", out.servedAfterRevoke)
	fmt.Fprintf(w, "  sessions                                %d started, %d revoked under load\n", out.started, out.revoked)
	if err := benchtool.WriteSummary(w, "server-revoke command", benchtool.Summarize(out.revokeCommand)); err != nil {
		return err
	}
	f, l := out.first, out.last
	fmt.Fprintf(w, "  long-lived server (pid %d), at %s -> at the end (%s):\n", out.longLivedPID, f.at.Round(time.Second), l.at.Round(time.Second))
	fmt.Fprintf(w, "    RSS (VmRSS)                           %s -> %s   (%s)\n", benchtool.MB(f.status.RSS), benchtool.MB(l.status.RSS), growth(float64(f.status.RSS), float64(l.status.RSS)))
	fmt.Fprintf(w, "    peak RSS (VmHWM)                      %s -> %s\n", benchtool.MB(f.status.PeakRSS), benchtool.MB(l.status.PeakRSS))
	fmt.Fprintf(w, "    threads                               %d -> %d\n", f.status.Threads, l.status.Threads)
	fmt.Fprintf(w, "    goroutines (runtime schedtrace)       %s -> %s\n", goroutineText(f.goroutines), goroutineText(l.goroutines))
	fmt.Fprintf(w, "    open fds                              %d -> %d\n", f.status.FDs, l.status.FDs)
	if len(out.churnedAtRevoke) > 0 {
		first := out.churnedAtRevoke[0]
		rssLo, rssHi, thLo, thHi := first.RSS, first.RSS, first.Threads, first.Threads
		for _, st := range out.churnedAtRevoke[1:] {
			rssLo, rssHi = min(rssLo, st.RSS), max(rssHi, st.RSS)
			thLo, thHi = min(thLo, st.Threads), max(thHi, st.Threads)
		}
		fmt.Fprintf(w, "  churned servers just before their revoke (%d): RSS %s .. %s   threads %d .. %d\n",
			len(out.churnedAtRevoke), benchtool.MB(rssLo), benchtool.MB(rssHi), thLo, thHi)
	}
	fmt.Fprintf(w, "  request_count = 200s served, per session: %d of %d match\n", out.started-len(out.mismatches), out.started)
	for _, m := range out.mismatches {
		fmt.Fprintf(w, "    MISMATCH %s\n", m)
	}
	return nil
}
