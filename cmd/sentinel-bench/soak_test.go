package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/benchtool"
)

func TestParseSoakFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(options) bool
	}{
		{"soak defaults", []string{"-mode", "soak"}, func(o options) bool {
			return o.duration == time.Minute && o.rate == 2000 && o.churn == 5*time.Second && o.servers == 2
		}},
		{"given flags win", []string{"-mode", "soak", "-duration", "3s", "-rate", "500", "-churn", "1s", "-servers", "4"}, func(o options) bool {
			return o.duration == 3*time.Second && o.rate == 500 && o.churn == time.Second && o.servers == 4
		}},
		{"stress keeps its own defaults", []string{"-mode", "stress"}, func(o options) bool {
			return o.duration == 10*time.Second && o.churn == 250*time.Millisecond && o.servers == 5
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, io.Discard)
			if err != nil || !tc.check(o) {
				t.Fatalf("parseFlags(%q) = %+v, %v", tc.args, o, err)
			}
		})
	}
}

// A short soak on bbolt: sessions revoked and started under an open-loop
// load, nothing unexpected, nothing served after a revoke returned, and the
// long-lived server read from outside (memory, threads, goroutines).
func TestSoakSmoke(t *testing.T) {
	sb := newTestSandbox(t)
	o := options{mode: "soak", client: benchtool.ClientRaw, conns: 4, duration: 4 * time.Second, rate: 300,
		churn: 800 * time.Millisecond, servers: 2}
	var out bytes.Buffer
	got, err := runSoak(context.Background(), sb, o, &out)
	if err != nil {
		t.Fatalf("runSoak: %v\n%s", err, out.String())
	}
	if got.requests != 1200 || got.unexpectedCount != 0 || got.servedAfterRevoke != 0 || len(got.mismatches) != 0 {
		t.Errorf("soak: %d requests (want 1200), %d unexpected %v, %d served after a revoke, mismatches %v\n%s",
			got.requests, got.unexpectedCount, got.unexpected, got.servedAfterRevoke, got.mismatches, out.String())
	}
	if got.revoked < 2 || got.expectedRefusals == 0 {
		t.Errorf("%d sessions revoked under load and %d refusals seen; want revokes that clients then ran into\n%s",
			got.revoked, got.expectedRefusals, out.String())
	}
	for _, s := range []soakSample{got.first, got.last} {
		if s.status.RSS == 0 || s.status.Threads == 0 || s.status.FDs <= 0 || s.goroutines <= 0 {
			t.Errorf("sample at %s read nothing of the long-lived server: %+v\n%s", s.at, s, out.String())
		}
	}
	for _, want := range []string{"== soak results", "unexpected errors", "RSS (VmRSS)", "goroutines (runtime schedtrace)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
