package benchtool

import (
	"strings"
	"testing"
	"time"
)

func TestMsAndMB(t *testing.T) {
	tests := []struct{ got, want string }{
		{Ms(1234567 * time.Nanosecond), "1.235 ms"},
		{Ms(0), "0.000 ms"},
		{Ms(-500 * time.Microsecond), "-0.500 ms"},
		{MB(25 << 20), "25.0 MB"},
		{MB(1536 << 10), "1.5 MB"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestWriteResultClosedLoop(t *testing.T) {
	r := &Result{Label: "sentinel", Mode: "closed", Config: LoadConfig{Conns: 32, Warmup: 2 * time.Second, Duration: 10 * time.Second},
		Elapsed: 10 * time.Second, Requests: 250003, OK: 250000, Errors: 3,
		Statuses: map[int]uint64{403: 1, 500: 1}, TransportErrors: 1, FirstError: "connection reset"}
	// 2^20-1 ns is a bucket's upper edge, so it reads back exactly.
	for range 99 {
		r.Latency.Record(1<<20 - 1)
	}
	r.Latency.Record(5 * time.Millisecond)
	var b strings.Builder
	if err := WriteResult(&b, r); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"== sentinel: closed loop, 32 keep-alive connections, 10s after 2s warm-up\n",
		"  throughput   25000 req/s (250000 OK of 250003 requests)\n",
		"  latency      p50 1.049 ms   p99 1.049 ms   p99.9 5.000 ms   max 5.000 ms\n",
		"  errors       3 (HTTP 403: 1; HTTP 500: 1; transport: 1, first: connection reset)\n",
	}
	if got := b.String(); got != strings.Join(want, "") {
		t.Errorf("WriteResult:\n%s\nwant:\n%s", got, strings.Join(want, ""))
	}
}

func TestWriteResultOpenLoopShowsServiceAndLag(t *testing.T) {
	r := &Result{Label: "baseline", Mode: "open", Config: LoadConfig{Conns: 8, Duration: time.Second, Rate: 1000}, Elapsed: time.Second, OK: 1000, Requests: 1000}
	r.Latency.Record(2 * time.Millisecond)
	r.Service.Record(time.Millisecond)
	r.Lateness.Record(time.Millisecond)
	var b strings.Builder
	if err := WriteResult(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"open loop at 1000 req/s, 8 connections", "(from the scheduled send time)", "service      p50 1.000 ms", "send lag     p99 1.000 ms", "errors       0\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestWriteRatio(t *testing.T) {
	base := &Result{Label: "baseline", Elapsed: time.Second, OK: 40000}
	sent := &Result{Label: "sentinel", Elapsed: time.Second, OK: 30000}
	base.Latency.Record(time.Millisecond)
	sent.Latency.Record(2 * time.Millisecond)
	var b strings.Builder
	if err := WriteRatio(&b, sent, base); err != nil {
		t.Fatal(err)
	}
	want := "== ratio sentinel/baseline\n  throughput   0.75x\n  p50 latency  2.00x\n  p99 latency  2.00x\n"
	if b.String() != want {
		t.Errorf("WriteRatio:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteRatio(&b, sent, &Result{Label: "empty"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "throughput   n/a") {
		t.Errorf("a zero baseline should print n/a:\n%s", b.String())
	}
}

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    uint64
		wantErr bool
	}{
		{"typical", "Name:\tsentinel\nVmPeak:\t  1000 kB\nVmHWM:\t   26316 kB\nVmRSS:\t 20000 kB\n", 26316 << 10, false},
		{"missing", "Name:\tsentinel\nVmRSS:\t 20000 kB\n", 0, true},
		{"bad unit", "VmHWM:\t 12 MB\n", 0, true},
		{"bad number", "VmHWM:\t x kB\n", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseVmHWM(strings.NewReader(tc.status))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseVmHWM = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
