package benchtool

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestClosedLoopCountsAndClassifies(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		// Every fifth request is refused.
		if served.Add(1)%5 == 0 {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	clients, err := NewClients(ClientRaw, Target{URL: srv.URL + "/"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ClosedLoop(context.Background(), clients, "test", LoadConfig{Conns: 2, Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK == 0 || r.Statuses[403] == 0 {
		t.Fatalf("OK %d, 403s %d: want both", r.OK, r.Statuses[403])
	}
	if r.Requests != r.OK+r.Errors || r.Errors != r.Statuses[403] || r.TransportErrors != 0 {
		t.Errorf("requests %d != OK %d + errors %d, or errors other than the 403s (%v)", r.Requests, r.OK, r.Errors, r.Statuses)
	}
	if r.Latency.Count() != r.Requests {
		t.Errorf("%d latencies for %d requests", r.Latency.Count(), r.Requests)
	}
	// The warm-up is not counted.
	if uint64(served.Load()) <= r.Requests {
		t.Errorf("server saw %d requests, the window counted %d: the warm-up was counted", served.Load(), r.Requests)
	}
}

func TestOpenLoopKeepsTheSchedule(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	clients, err := NewClients(ClientRaw, Target{URL: srv.URL + "/"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenLoop(context.Background(), clients, "test", LoadConfig{Conns: 4, Warmup: 100 * time.Millisecond, Duration: 500 * time.Millisecond, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	// 500 ms at 200/s is 100 due slots; float edges may move one in or out.
	if r.OK < 99 || r.OK > 101 || r.Errors != 0 {
		t.Errorf("OK %d, errors %d: want 100±1 and none", r.OK, r.Errors)
	}
	if r.Service.Count() != r.OK || r.Lateness.Count() != r.OK {
		t.Errorf("service %d, lateness %d samples for %d requests", r.Service.Count(), r.Lateness.Count(), r.OK)
	}
}

func TestLoadRefusesBadConfig(t *testing.T) {
	clients, err := NewClients(ClientRaw, Target{URL: "http://127.0.0.1:1/"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := ClosedLoop(ctx, clients, "x", LoadConfig{Conns: 0, Duration: time.Second}); err == nil {
		t.Error("ClosedLoop with no connections ran")
	}
	if _, err := OpenLoop(ctx, clients, "x", LoadConfig{Conns: 1, Duration: time.Second}); err == nil {
		t.Error("OpenLoop with no rate ran")
	}
}

func TestTransportErrorsAreCounted(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/"
	srv.Close() // nothing listens there now
	clients, err := NewClients(ClientRaw, Target{URL: url}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ClosedLoop(context.Background(), clients, "x", LoadConfig{Conns: 1, Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.TransportErrors == 0 || r.OK != 0 || r.FirstError == "" {
		t.Errorf("transport errors %d, OK %d, first %q: want errors and their text", r.TransportErrors, r.OK, r.FirstError)
	}
}
