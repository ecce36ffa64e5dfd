package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/benchtool"

	"github.com/sentinel-gw/sentinel/internal/e2e"
	"github.com/sentinel-gw/sentinel/internal/testenv"
)

// TestMain lets the test binary stand in for sentinel-bench when the
// throughput mode re-executes itself as the baseline server.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == baselineCommand {
		os.Exit(baselineMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	code := testenv.Main(m) // m.Run, then the test containers stop
	e2e.Cleanup()
	os.Exit(code)
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(options) bool
		wantErr bool
	}{
		{"defaults", nil, func(o options) bool {
			return o.mode == "throughput" && o.conns == 32 && o.duration == 10*time.Second && o.warmup == 2*time.Second &&
				o.client == benchtool.ClientRaw && o.sentinel == "bin/sentinel" && o.store == "" && o.rounds == 20
		}, false},
		{"-rate alone picks the rate mode", []string{"-rate", "500"}, func(o options) bool { return o.mode == "rate" && o.rate == 500 }, false},
		{"rate mode defaults to 1000/s", []string{"-mode", "rate"}, func(o options) bool { return o.rate == 1000 }, false},
		{"-conns noted as given", []string{"-mode", "revoke", "-conns", "8"}, func(o options) bool { return o.connsSet && o.conns == 8 }, false},
		{"revoke without -conns", []string{"-mode", "revoke"}, func(o options) bool { return !o.connsSet }, false},
		{"unknown mode", []string{"-mode", "fast"}, nil, true},
		{"unknown client", []string{"-client", "curl"}, nil, true},
		{"zero connections", []string{"-conns", "0"}, nil, true},
		{"zero duration", []string{"-duration", "0s"}, nil, true},
		{"stray argument", []string{"extra"}, nil, true},
		{"zero rounds", []string{"-rounds", "0"}, nil, true},
		{"-broker with rate", []string{"-broker", "-mode", "rate"}, func(o options) bool { return o.broker && o.mode == "rate" && o.rate == 1000 }, false},
		{"broker mode over many sessions", []string{"-mode", "broker", "-sessions", "1000", "-rate", "500"}, func(o options) bool {
			return o.mode == "broker" && o.sessions == 1000 && o.rate == 500 && o.pairs == 3
		}, false},
		{"-broker with stress", []string{"-broker", "-mode", "stress"}, nil, true},
		{"-broker with soak", []string{"-broker", "-mode", "soak"}, nil, true},
		{"zero sessions", []string{"-mode", "broker", "-sessions", "0"}, nil, true},
		{"zero pairs", []string{"-mode", "broker", "-pairs", "0"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseFlags(%q) accepted: %+v", tc.args, o)
				}
				return
			}
			if err != nil || !tc.check(o) {
				t.Fatalf("parseFlags(%q) = %+v, %v", tc.args, o, err)
			}
		})
	}
}

func TestHelpAndUsageErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-h"}, &out, &errOut); code != 0 {
		t.Errorf("-h exited %d", code)
	}
	for _, want := range []string{"Modes:", "-sentinel", "-store", "-mode", "-conns", "-duration", "-rate", "-rounds"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	errOut.Reset()
	if code := run([]string{"-mode", "nope"}, &out, &errOut); code != 2 {
		t.Errorf("a bad mode exited %d, want 2", code)
	}
	errOut.Reset()
	if code := run([]string{"-sentinel", filepath.Join(t.TempDir(), "missing")}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no sentinel binary") {
		t.Errorf("a missing binary exited %d: %s", code, errOut.String())
	}
}

func TestBaselineHandlerServesTheBody(t *testing.T) {
	body := []byte(`{"AccessKeyId":"AKIAIOSFODNN7EXAMPLE"}`)
	srv := httptest.NewServer(baselineHandler(body))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/creds/baseline")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(got, body) || resp.Header.Get("Content-Type") != "application/json" || resp.ContentLength != int64(len(body)) {
		t.Errorf("baseline answered %d %q (%s, length %d)", resp.StatusCode, got, resp.Header.Get("Content-Type"), resp.ContentLength)
	}
}

func TestRedactedStore(t *testing.T) {
	for in, want := range map[string]string{
		"redis://user:pw@127.0.0.1:6379/0": "redis://user:xxxxx@127.0.0.1:6379/0",
		"bolt:///var/x.db":                 "bolt:///var/x.db",
		"dynamodb://t?region=eu-west-1":    "dynamodb://t?region=eu-west-1",
	} {
		if got := redactedStore(in); got != want {
			t.Errorf("redactedStore(%q) = %q, want %q", in, got, want)
		}
	}
}

// sentinelBinary is the sentinel binary the smoke tests drive.
func sentinelBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the sentinel binary")
	}
	return e2e.Sentinel(t)
}

func newTestSandbox(t *testing.T) *sandbox {
	t.Helper()
	bin := sentinelBinary(t)
	sb, err := newSandbox(context.Background(), bin, "bolt://"+filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.close)
	return sb
}

// The whole throughput mode, briefly, on bbolt: both servers answer, nothing fails.
func TestThroughputSmoke(t *testing.T) {
	sb := newTestSandbox(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := options{mode: "throughput", client: benchtool.ClientRaw, conns: 4, warmup: 200 * time.Millisecond, duration: time.Second, pairs: 2}
	var out bytes.Buffer
	got, err := runLoad(context.Background(), sb, self, o, &out)
	if err != nil {
		t.Fatalf("runLoad: %v\n%s", err, out.String())
	}
	for _, r := range []*benchtool.Result{got.baseline, got.sentinel} {
		if r.Throughput() <= 0 || r.Errors != 0 {
			t.Errorf("%s: throughput %.0f, errors %d (%v, %s)", r.Label, r.Throughput(), r.Errors, r.Statuses, r.FirstError)
		}
	}
	if got.sentinelRSS == 0 {
		t.Error("no peak RSS read for sentinel")
	}
	// A second of load costs each server some CPU: at least one 10 ms tick.
	if got.sentinelCPU <= 0 || got.baselineCPU <= 0 {
		t.Errorf("CPU over the window: sentinel %s, baseline %s; want both read and positive", got.sentinelCPU, got.baselineCPU)
	}
	if len(got.ratios) != 2 {
		t.Errorf("%d pair ratios, want 2", len(got.ratios))
	}
	for _, want := range []string{"== baseline:", "== sentinel:", "== ratio sentinel/baseline", "sentinel     ", "== server CPU per request", "baseline/sentinel", "sentinel/baseline throughput over 2 alternating pairs"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// Two revocation rounds: a 403 is seen, and nothing sent after the revoke returned is served.
func TestRevokeSmoke(t *testing.T) {
	sb := newTestSandbox(t)
	o := options{mode: "revoke", client: benchtool.ClientRaw, rounds: 2}
	var out bytes.Buffer
	got, err := runRevoke(context.Background(), sb, o, &out)
	if err != nil {
		t.Fatalf("runRevoke: %v\n%s", err, out.String())
	}
	if len(got.rounds) != 2 || got.confirmed != 2 || got.noRefusal != 0 || got.servedAfter != 0 || got.servedAfterRefusal != 0 || got.otherErrors != 0 {
		t.Errorf("revoke rounds: %+v\n%s", got, out.String())
	}
}

// A small stress run: sessions revoked and started under load, counts exact.
func TestStressSmoke(t *testing.T) {
	sb := newTestSandbox(t)
	o := options{mode: "stress", client: benchtool.ClientRaw, clients: 10, requests: 20, servers: 2, pace: 5 * time.Millisecond, churn: 60 * time.Millisecond}
	var out bytes.Buffer
	got, err := runStress(context.Background(), sb, o, &out)
	if err != nil {
		t.Fatalf("runStress: %v\n%s", err, out.String())
	}
	if got.requests != 200 || got.unexpectedCount != 0 || got.servedAfterRevoke != 0 || len(got.mismatches) != 0 {
		t.Errorf("stress: %+v\n%s", got, out.String())
	}
	if got.revoked == 0 {
		t.Errorf("no session was revoked under load:\n%s", out.String())
	}
}
