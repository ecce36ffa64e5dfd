package gateway_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/jsonlog"
	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// BenchmarkIssue is the whole per-request pipeline on a cached credential:
// policy, revocation check through a polling View, cap, touch, decision-log
// line (encoded, written to io.Discard).
func BenchmarkIssue(b *testing.B) { benchIssue(b, nil) }

// benchIssue runs BenchmarkIssue's pipeline; wire, when set, adds to its
// dependencies (and may seed the store).
func benchIssue(b *testing.B, wire func(*memory.Store, *gateway.Deps)) {
	clock := ports.SystemClock{}
	store := memory.New(clock)
	pol := &staticPolicy{}
	p, err := parseForBench(allowAll)
	if err != nil {
		b.Fatal(err)
	}
	pol.p = p
	sid, _ := record.NewID()
	tracker := session.NewTracker(store, clock, session.TrackerConfig{}, nil)
	started, err := tracker.Start(context.Background(), ports.Session{ID: sid, User: "alice", Profile: "prod", ServerInstanceID: "i"})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = tracker.Stop(context.Background()) }()
	view := session.NewView(store, nil, clock, session.ViewConfig{Poll: time.Second}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done, _ := view.Start(ctx, started)
	defer func() { cancel(); <-done }()
	deps := gateway.Deps{Policy: pol, Source: &countingSource{clock: clock, ttl: time.Hour}, Log: jsonlog.New(io.Discard),
		Clock: clock, Sessions: store, View: view, Tracker: tracker}
	if wire != nil {
		wire(store, &deps)
	}
	gw := gateway.New(gateway.Config{Profile: "prod", Identity: ports.Identity{Name: "alice", Source: "os"}, SessionID: sid}, deps)
	if _, err := gw.Issue(ctx, "warm"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := gw.Issue(ctx, "0123456789abcdef"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
