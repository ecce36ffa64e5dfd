package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// countingProxy sits between the broker and DynamoDB Local (-count-dynamodb):
// it forwards every call unchanged and counts them by operation (the
// X-Amz-Target header), since DynamoDB Local keeps no counters of its own.
type countingProxy struct {
	url string
	srv *http.Server

	mu    sync.Mutex
	calls map[string]int64
}

// startCountingProxy listens on a free loopback port and forwards to target.
func startCountingProxy(target string) (*countingProxy, error) {
	to, err := url.Parse(target)
	if err != nil || to.Host == "" {
		return nil, fmt.Errorf("-count-dynamodb: the store's endpoint %q is not a URL", target)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{url: "http://" + ln.Addr().String(), calls: map[string]int64{}}
	forward := httputil.NewSingleHostReverseProxy(to)
	p.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := r.Header.Get("X-Amz-Target")
		if _, after, found := strings.Cut(op, "."); found {
			op = after
		}
		p.mu.Lock()
		p.calls[op]++
		p.mu.Unlock()
		forward.ServeHTTP(w, r)
	})}
	go func() {
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Printf("sentinel-bench: the DynamoDB counting proxy stopped: %v\n", err)
		}
	}()
	return p, nil
}

// snapshot is the calls so far, by operation.
func (p *countingProxy) snapshot() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int64, len(p.calls))
	for op, n := range p.calls {
		out[op] = n
	}
	return out
}

func (p *countingProxy) close() { _ = p.srv.Close() }

// throughProxy is the DynamoDB store URL raw with its endpoint replaced by the proxy's.
func throughProxy(raw string, p *countingProxy) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("endpoint", p.url)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
