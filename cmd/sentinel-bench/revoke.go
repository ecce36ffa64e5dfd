package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sentinel-gw/sentinel/internal/benchtool"
)

// Revoke-round timing.
const (
	// revokeWarm: clients run this long before the revoke, so it lands under load.
	revokeWarm = 300 * time.Millisecond
	// refusalWait bounds the wait for every client to see its first 403.
	refusalWait = 3 * time.Second
	// stayRefused: clients keep asking this long after their first 403, to
	// catch a revoked session that serves again.
	stayRefused = 50 * time.Millisecond
	// defaultRevokeConns is the revoke mode's client count unless -conns is given.
	defaultRevokeConns = 4
)

// roundResult is one revocation round.
type roundResult struct {
	// command is how long server-revoke took, launch to return.
	command time.Duration
	// propagation is from the command's return to the first 403 any client
	// saw; negative when the refusal came before the return.
	propagation time.Duration
	refused     bool
	// servedAfter counts 200s whose request was sent after the return.
	servedAfter int
	// servedAfterRefusal counts 200s a client got after its own first 403.
	servedAfterRefusal int
	// otherErrors counts responses other than 200 and 403, and transport errors.
	otherErrors int
	requests    int
	// confirmed: server-revoke said the running server confirmed the revoke.
	confirmed bool
}

// confirmedSays is what server-revoke prints when the server confirmed.
const confirmedSays = "the running server confirmed it refuses from now on"

// revokeClient is one client's view of a round, in nanoseconds since the round began.
type revokeClient struct {
	okSends       []int64 // send times of 200s sent after the revoke was launched
	firstRefusal  int64   // receive time of the first 403; math.MaxInt64 when none
	okAfterRefuse int
	other         int
	requests      int
}

func revokeRound(ctx context.Context, sb *sandbox, o options, conns int) (roundResult, error) {
	srv, err := sb.startServer(ctx)
	if err != nil {
		return roundResult{}, err
	}
	defer func() { _ = srv.stop() }()
	clients, err := benchtool.NewClients(o.client, benchtool.Target{URL: srv.url, Token: srv.token}, conns)
	if err != nil {
		return roundResult{}, err
	}
	defer clients.Close()

	base := time.Now()
	since := func() int64 { return int64(time.Since(base)) }
	var launched atomic.Int64
	launched.Store(math.MaxInt64)
	stop := make(chan struct{})
	var allRefused sync.WaitGroup
	states := make([]*revokeClient, conns)
	var wg sync.WaitGroup
	for i := range states {
		st := &revokeClient{firstRefusal: math.MaxInt64}
		states[i] = st
		allRefused.Add(1)
		wg.Go(func() {
			d := clients.New()
			defer func() { _ = d.Close() }()
			refused := false
			for {
				select {
				case <-stop:
					if !refused {
						allRefused.Done()
					}
					return
				default:
				}
				t0 := since()
				status, err := d.Get()
				t1 := since()
				st.requests++
				switch {
				case err == nil && status == http.StatusOK:
					if t0 > launched.Load() {
						st.okSends = append(st.okSends, t0)
					}
					if refused {
						st.okAfterRefuse++
					}
				case err == nil && status == http.StatusForbidden:
					if !refused {
						refused = true
						st.firstRefusal = t1
						allRefused.Done()
					}
				default:
					st.other++
					time.Sleep(transportPause)
				}
			}
		})
	}

	time.Sleep(revokeWarm)
	launched.Store(since())
	rv, revokeErr := sb.revoke(ctx, srv.sessionID)
	if revokeErr == nil {
		waitGroupTimeout(&allRefused, refusalWait)
		time.Sleep(stayRefused)
	}
	close(stop)
	wg.Wait()
	if revokeErr != nil {
		return roundResult{}, revokeErr
	}

	returned := int64(rv.returned.Sub(base))
	r := roundResult{command: rv.returned.Sub(rv.launched), confirmed: strings.Contains(rv.stderr, confirmedSays)}
	first := int64(math.MaxInt64)
	for _, st := range states {
		first = min(first, st.firstRefusal)
		for _, sent := range st.okSends {
			if sent > returned {
				r.servedAfter++
			}
		}
		r.servedAfterRefusal += st.okAfterRefuse
		r.otherErrors += st.other
		r.requests += st.requests
	}
	if first != math.MaxInt64 {
		r.refused = true
		r.propagation = time.Duration(first - returned)
	}
	return r, nil
}

// transportPause keeps a client whose connection broke from spinning.
const transportPause = time.Millisecond

func waitGroupTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// revokeOutcome sums up the rounds.
type revokeOutcome struct {
	rounds             []roundResult
	servedAfter        int
	servedAfterRefusal int
	noRefusal          int
	otherErrors        int
	confirmed          int
}

func runRevoke(ctx context.Context, sb *sandbox, o options, w io.Writer) (*revokeOutcome, error) {
	conns := defaultRevokeConns
	if o.connsSet {
		conns = o.conns
	}
	fmt.Fprintf(w, "== revocation propagation: %d rounds, %d clients requesting continuously, a fresh server per round\n", o.rounds, conns)
	fmt.Fprintf(w, "   propagation = first 403 seen by any client minus the instant server-revoke returned (negative: refused before it returned)\n")
	out := &revokeOutcome{}
	var propagation, command []time.Duration
	for i := 1; i <= o.rounds; i++ {
		r, err := revokeRound(ctx, sb, o, conns)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", i, err)
		}
		out.rounds = append(out.rounds, r)
		out.servedAfter += r.servedAfter
		out.servedAfterRefusal += r.servedAfterRefusal
		out.otherErrors += r.otherErrors
		if r.confirmed {
			out.confirmed++
		}
		command = append(command, r.command)
		prop := "no 403 within " + refusalWait.String()
		if r.refused {
			propagation = append(propagation, r.propagation)
			prop = fmt.Sprintf("%+.3f ms", float64(r.propagation)/float64(time.Millisecond))
		} else {
			out.noRefusal++
		}
		fmt.Fprintf(w, "  round %2d   revoke command %s   confirmed %-3s   propagation %s   200s sent after return %d   200s after a client's 403 %d   other errors %d   requests %d\n",
			i, benchtool.Ms(r.command), map[bool]string{true: "yes", false: "no"}[r.confirmed], prop, r.servedAfter, r.servedAfterRefusal, r.otherErrors, r.requests)
	}
	fmt.Fprintf(w, "== revocation summary over %d rounds\n", o.rounds)
	if err := benchtool.WriteSummary(w, "propagation", benchtool.Summarize(propagation)); err != nil {
		return nil, err
	}
	if err := benchtool.WriteSummary(w, "server-revoke command", benchtool.Summarize(command)); err != nil {
		return nil, err
	}
	_, err := fmt.Fprintf(w, "  rounds confirmed by the server        %d of %d\n  200s sent after the revoke returned   %d\n  200s after a client's own 403         %d\n  rounds without any 403                %d\n  other errors                          %d\n",
		out.confirmed, len(out.rounds), out.servedAfter, out.servedAfterRefusal, out.noRefusal, out.otherErrors)
	return out, err
}
