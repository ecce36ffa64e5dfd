package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sentinel-gw/sentinel/internal/benchtool"
)

// stressServer is one session in the stress run and what it served.
type stressServer struct {
	*server
	clients *benchtool.Clients
	// revoking is set before server-revoke starts: a 403 is expected from then on.
	revoking atomic.Bool
	ok       atomic.Int64
	refused  atomic.Int64

	mu sync.Mutex
	// okSends are send times of 200s served once revoking was set.
	okSends  []time.Time
	returned time.Time // when server-revoke returned; zero until then
}

func (s *stressServer) served(sent time.Time) {
	s.ok.Add(1)
	if s.revoking.Load() {
		s.mu.Lock()
		s.okSends = append(s.okSends, sent)
		s.mu.Unlock()
	}
}

// servedAfterRevoke counts 200s whose request was sent after the revoke returned.
func (s *stressServer) servedAfterRevoke() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.returned.IsZero() {
		return 0
	}
	n := 0
	for _, t := range s.okSends {
		if t.After(s.returned) {
			n++
		}
	}
	return n
}

// stressOutcome is what the stress mode found.
type stressOutcome struct {
	requests, ok, expectedRefusals int64
	unexpected                     []string // one line per unexpected error kind, with its count
	unexpectedCount                int64
	servedAfterRevoke              int
	started, revoked               int
	mismatches                     []string
}

// errorTally counts unexpected errors by their text.
type errorTally struct {
	mu     sync.Mutex
	counts map[string]int64
	total  int64
}

func (e *errorTally) add(what string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counts == nil {
		e.counts = map[string]int64{}
	}
	e.counts[what]++
	e.total++
}

func (e *errorTally) lines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for what, n := range e.counts {
		out = append(out, fmt.Sprintf("%d x %s", n, what))
	}
	slices.Sort(out)
	return out
}

// stressPool is the set of sessions clients currently send to.
type stressPool struct {
	live atomic.Pointer[[]*stressServer]
	mu   sync.Mutex // serialises changes
	all  []*stressServer
}

func (p *stressPool) snapshot() []*stressServer { return *p.live.Load() }

func (p *stressPool) set(live []*stressServer) { p.live.Store(&live) }

func runStress(ctx context.Context, sb *sandbox, o options, w io.Writer) (*stressOutcome, error) {
	fmt.Fprintf(w, "== stress: %d clients x %d requests, %d live sessions, %s pause between a client's requests; every %s one session is revoked and a new one started\n",
		o.clients, o.requests, o.servers, o.pace, o.churn)
	pool := &stressPool{}
	pool.set(nil)
	defer func() {
		for _, s := range pool.all {
			_ = s.stop()
			s.clients.Close()
		}
	}()
	start := func() (*stressServer, error) {
		srv, err := sb.startServer(ctx)
		if err != nil {
			return nil, err
		}
		clients, err := benchtool.NewClients(o.client, benchtool.Target{URL: srv.url, Token: srv.token}, o.clients)
		if err != nil {
			_ = srv.stop()
			return nil, err
		}
		s := &stressServer{server: srv, clients: clients}
		pool.mu.Lock()
		pool.all = append(pool.all, s)
		pool.mu.Unlock()
		return s, nil
	}
	var live []*stressServer
	for range o.servers {
		s, err := start()
		if err != nil {
			return nil, err
		}
		live = append(live, s)
	}
	pool.set(live)

	out := &stressOutcome{}
	var unexpected errorTally
	var requests, ok, refusals atomic.Int64
	clientsDone := make(chan struct{})
	var wg sync.WaitGroup
	for c := range o.clients {
		wg.Go(func() {
			doers := map[*stressServer]benchtool.Doer{}
			defer func() {
				for _, d := range doers {
					_ = d.Close()
				}
			}()
			for i := range o.requests {
				if ctx.Err() != nil {
					return
				}
				servers := pool.snapshot()
				s := servers[(c+i)%len(servers)]
				d, found := doers[s]
				if !found {
					d = s.clients.New()
					doers[s] = d
				}
				sent := time.Now()
				status, err := d.Get()
				requests.Add(1)
				switch {
				case err != nil:
					unexpected.add("transport error: " + err.Error())
				case status == http.StatusOK:
					ok.Add(1)
					s.served(sent)
				case status == http.StatusForbidden && s.revoking.Load():
					refusals.Add(1)
					s.refused.Add(1)
				default:
					unexpected.add(fmt.Sprintf("HTTP %d from a session not being revoked", status))
				}
				time.Sleep(o.pace)
			}
		})
	}
	go func() { wg.Wait(); close(clientsDone) }()

	churnErr := churn(ctx, sb, o, pool, start, clientsDone, out)
	<-clientsDone
	if churnErr != nil {
		return nil, churnErr
	}

	// Shut every server down (it flushes its counts), then compare.
	var stopErrs []error
	var stopWG sync.WaitGroup
	var stopMu sync.Mutex
	for _, s := range pool.all {
		stopWG.Go(func() {
			if err := s.stop(); err != nil {
				stopMu.Lock()
				stopErrs = append(stopErrs, err)
				stopMu.Unlock()
			}
		})
	}
	stopWG.Wait()
	if err := errors.Join(stopErrs...); err != nil {
		return nil, err
	}
	records, err := sb.sessions(ctx)
	if err != nil {
		return nil, err
	}
	out.requests, out.ok, out.expectedRefusals = requests.Load(), ok.Load(), refusals.Load()
	out.unexpected, out.unexpectedCount = unexpected.lines(), unexpected.total
	out.started = len(pool.all)
	for _, s := range pool.all {
		out.servedAfterRevoke += s.servedAfterRevoke()
		rec, found := records[s.sessionID]
		switch {
		case !found:
			out.mismatches = append(out.mismatches, fmt.Sprintf("session %s: not in server-sessions; served %d", s.sessionID, s.ok.Load()))
		case rec.RequestCount != s.ok.Load():
			out.mismatches = append(out.mismatches, fmt.Sprintf("session %s (%s): request_count %d, served %d 200s", s.sessionID, rec.Status, rec.RequestCount, s.ok.Load()))
		}
	}
	return out, writeStress(w, out)
}

// churn revokes the oldest live session and starts a new one every -churn
// until the clients are done. A revoked session stays in the pool until the
// next turn, so clients keep asking it after the revoke returned.
func churn(ctx context.Context, sb *sandbox, o options, pool *stressPool, start func() (*stressServer, error),
	clientsDone <-chan struct{}, out *stressOutcome,
) error {
	tick := time.NewTicker(o.churn)
	defer tick.Stop()
	for {
		select {
		case <-clientsDone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		fresh, err := start()
		if err != nil {
			return fmt.Errorf("starting a new session under load: %w", err)
		}
		// Sessions whose revoke returned last turn leave; the fresh one joins.
		var next []*stressServer
		var victim *stressServer
		for _, s := range pool.snapshot() {
			s.mu.Lock()
			gone := !s.returned.IsZero()
			s.mu.Unlock()
			if gone {
				continue
			}
			next = append(next, s)
			if victim == nil && !s.revoking.Load() {
				victim = s
			}
		}
		next = append(next, fresh)
		victim.revoking.Store(true)
		pool.set(next)
		rv, err := sb.revoke(ctx, victim.sessionID)
		if err != nil {
			return fmt.Errorf("revoking under load: %w", err)
		}
		victim.mu.Lock()
		victim.returned = rv.returned
		victim.mu.Unlock()
		out.revoked++
	}
}

func writeStress(w io.Writer, out *stressOutcome) error {
	fmt.Fprintf(w, "  requests                                %d (200: %d, expected 403 from a session being revoked: %d)\n",
		out.requests, out.ok, out.expectedRefusals)
	fmt.Fprintf(w, "  unexpected errors                       %d\n", out.unexpectedCount)
	for _, line := range out.unexpected {
		fmt.Fprintf(w, "    %s\n", line)
	}
	fmt.Fprintf(w, "  200s sent after their revoke returned   %d\n", out.servedAfterRevoke)
	fmt.Fprintf(w, "  sessions                                %d started, %d revoked under load\n", out.started, out.revoked)
	fmt.Fprintf(w, "  request_count = 200s served, per session: %d of %d match\n", out.started-len(out.mismatches), out.started)
	for _, m := range out.mismatches {
		fmt.Fprintf(w, "    MISMATCH %s\n", m)
	}
	return nil
}
