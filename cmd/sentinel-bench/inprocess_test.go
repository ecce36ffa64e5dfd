package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/adapters/bolt"
	"github.com/sentinel-gw/sentinel/adapters/httpserver"
	"github.com/sentinel-gw/sentinel/adapters/jsonlog"
	"github.com/sentinel-gw/sentinel/adapters/policyfile"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/internal/benchtool"
	"github.com/sentinel-gw/sentinel/ports"
)

// inProcessServer wires the server the way `sentinel exec --server` does
// (bbolt store with its feed, tracker, view, policy file, static-key
// profile, decision log), in this process, so `go test -cpuprofile` sees
// the hot path. It is for profiling; sentinel-bench is the measurement.
func inProcessServer(b *testing.B) (*gateway.Gateway, *httpserver.Server, string) {
	b.Helper()
	parts := newInProcessParts(b, allowAllPolicy)
	store, policies, provider, decisions := parts.store, parts.policies, parts.provider, parts.decisions
	ctx := context.Background()
	clock := ports.SystemClock{}

	id := ports.Identity{Name: "bench", Source: "os"}
	sid, err := record.NewID()
	if err != nil {
		b.Fatal(err)
	}
	instance, err := record.NewID()
	if err != nil {
		b.Fatal(err)
	}
	now := clock.Now()
	tracker := session.NewTracker(store, clock, session.TrackerConfig{HeartbeatInterval: 20 * time.Second, Lease: time.Minute}, nil)
	started, err := tracker.Start(ctx, ports.Session{ID: sid, User: id.Name, Profile: benchProfile, ServerInstanceID: instance,
		Status: ports.SessionActive, IdentitySource: id.Source, StartedAt: now, LastAccessAt: now})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tracker.Stop(context.Background()) })
	view := session.NewView(store, store, clock, session.ViewConfig{}, nil)
	viewCtx, stopView := context.WithCancel(context.Background())
	viewDone, err := view.Start(viewCtx, started)
	if err != nil {
		stopView()
		b.Fatal(err)
	}
	b.Cleanup(func() { stopView(); <-viewDone })

	gw := gateway.New(gateway.Config{Profile: benchProfile, Identity: id, SessionID: sid, Duration: 15 * time.Minute},
		gateway.Deps{Policy: policies, Source: provider, Log: decisions, Clock: clock, Sessions: store, Tracker: tracker, View: view})
	if err := gw.Prefetch(ctx); err != nil {
		b.Fatal(err)
	}
	token, err := httpserver.NewToken()
	if err != nil {
		b.Fatal(err)
	}
	srv, err := httpserver.Start(httpserver.Config{Token: token, Issuer: gw})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return gw, srv, token
}

// inProcessParts are what the in-process wirings share, in a temporary
// folder: a bbolt store, a policy file, the static-key profile (AWS's
// example keys, no session) and a decision log.
type inProcessParts struct {
	dir       string
	store     *bolt.Store
	policies  *policyfile.Source
	provider  *awscreds.Provider
	decisions *jsonlog.Log
}

func newInProcessParts(b *testing.B, policyYAML string) inProcessParts {
	b.Helper()
	p := inProcessParts{dir: b.TempDir()}
	for name, content := range map[string]string{
		"config":      "[profile " + benchProfile + "]\nregion = us-east-1\n",
		"credentials": "[" + benchProfile + "]\naws_access_key_id = " + exampleKeyID + "\naws_secret_access_key = " + exampleSecret + "\n",
		"policy.yaml": policyYAML,
	} {
		if err := os.WriteFile(filepath.Join(p.dir, name), []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	b.Setenv("AWS_CONFIG_FILE", filepath.Join(p.dir, "config"))
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(p.dir, "credentials"))
	var err error
	if p.store, err = bolt.Open(filepath.Join(p.dir, "sessions.db"), ports.SystemClock{}, bolt.Options{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.store.Close() })
	if p.policies, err = policyfile.NewSource(filepath.Join(p.dir, "policy.yaml")); err != nil {
		b.Fatal(err)
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watched := p.policies.Watch(watchCtx, policyfile.WatchConfig{}) // as exec --server and serve do
	b.Cleanup(func() { stopWatch(); <-watched })
	if p.provider, err = awscreds.NewProvider(context.Background(), benchProfile, awscreds.Options{NoSession: true}); err != nil {
		b.Fatal(err)
	}
	if p.decisions, err = jsonlog.Open(filepath.Join(p.dir, "decisions.jsonl")); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.decisions.Close() })
	return p
}

// BenchmarkInProcessServer drives the wired server over loopback HTTP with
// the bench's raw keep-alive client (32 connections on 2 cores), the
// baseline handler (the same body, no checks) the same way in the same
// process, and the gateway alone. http against baseline is the handler's
// cost with less of the machine's noise than sentinel-bench's two processes.
// Profile with:
//
//	go test -run '^$' -bench InProcessServer -cpuprofile cpu.out ./cmd/sentinel-bench
//	go tool pprof -top -cum cpu.out
func BenchmarkInProcessServer(b *testing.B) {
	gw, srv, token := inProcessServer(b)
	body, err := fetchBody(context.Background(), srv.URL(), token)
	if err != nil {
		b.Fatal(err)
	}
	base := httptest.NewUnstartedServer(baselineHandler(body))
	base.Config.ReadHeaderTimeout = 10 * time.Second // as baseline-server
	base.Start()
	b.Cleanup(base.Close)
	b.Run("http", func(b *testing.B) { benchRawGets(b, benchtool.Target{URL: srv.URL(), Token: token}) })
	b.Run("baseline", func(b *testing.B) { benchRawGets(b, benchtool.Target{URL: base.URL, Token: token}) })
	b.Run("gateway", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := gw.Issue(ctx, "0123456789abcdef"); err != nil {
					b.Errorf("Issue: %v", err)
					return
				}
			}
		})
	})
}

// benchRawGets sends GETs over 32 raw keep-alive connections, 16 goroutines
// per core, and fails on anything but a 200.
func benchRawGets(b *testing.B, target benchtool.Target) {
	clients, err := benchtool.NewClients(benchtool.ClientRaw, target, 32)
	if err != nil {
		b.Fatal(err)
	}
	defer clients.Close()
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := clients.New()
		defer d.Close()
		for pb.Next() {
			if status, err := d.Get(); err != nil || status != http.StatusOK {
				b.Errorf("GET = %d, %v", status, err)
				return
			}
		}
	})
}
