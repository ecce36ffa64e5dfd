package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/adapters/brokerhttp"
	"github.com/sentinel-gw/sentinel/core/broker"
	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// inProcessBroker wires the broker the way `sentinel serve` does (bbolt
// store, policy file, decision log, the caller verifier against the local
// STS, brokerhttp over loopback HTTPS), in this process, so `go test
// -cpuprofile` sees its hot path. The profile's credentials are static keys
// (serve's would come from an AssumeRole the provider caches). It is for
// profiling; sentinel-bench -mode broker is the measurement.
func inProcessBroker(b *testing.B) (ports.BrokerService, ports.Identity, *brokerClients, string, string) {
	b.Helper()
	parts := newInProcessParts(b, brokerPolicy)
	store, policies, provider, decisions := parts.store, parts.policies, parts.provider, parts.decisions
	ctx := context.Background()
	clock := ports.SystemClock{}
	sts := fakests.New(b, fakests.WithUser(benchUser.keyID, benchUser.secret, benchUser.arn()))
	files := testkit.ServerCert(b, parts.dir, "127.0.0.1")
	svc, err := broker.New(broker.Deps{Stores: store, Policy: policies, Log: decisions, Clock: clock,
		Sources:   func(string) (ports.CredentialProvider, error) { return provider, nil },
		Heartbeat: 20 * time.Second, Lease: time.Minute, Duration: 15 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	verifier, err := awscreds.NewCallerVerifier(awscreds.VerifierConfig{BrokerID: "127.0.0.1", STSEndpoint: sts.URL(), Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	handler, err := brokerhttp.NewHandler(brokerhttp.Config{Service: svc, Verifier: verifier, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := brokerhttp.Start(brokerhttp.ServerConfig{Listen: "127.0.0.1:0", TLSCert: files.Cert, TLSKey: files.Key, Handler: handler})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	bc, err := newBrokerClients(&team{sts: sts, tls: files})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(bc.close)
	c, _, err := bc.client(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	opened, err := c.OpenSession(ctx, ports.OpenSessionInput{Profile: benchProfile})
	if err != nil {
		b.Fatal(err)
	}
	caller := ports.Identity{Name: benchUser.name, ARN: benchUser.arn(), Source: "aws"}
	return svc, caller, bc, srv.URL(), opened.Session.ID
}

// BenchmarkInProcessBroker drives the wired broker with credential
// requests: over HTTPS with the bench's broker clients (one connection per
// goroutine, 32 on 2 cores), and the service alone. Profile with:
//
//	go test -run '^$' -bench InProcessBroker -cpuprofile cpu.out ./cmd/sentinel-bench
//	go tool pprof -top -cum cpu.out
func BenchmarkInProcessBroker(b *testing.B) {
	svc, caller, bc, url, session := inProcessBroker(b)
	b.Run("https", func(b *testing.B) {
		b.SetParallelism(16)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			c, _, err := bc.client(url)
			if err != nil {
				b.Error(err)
				return
			}
			d := &credentialDoer{c: c, sessions: []string{session}, next: new(atomic.Uint64)}
			for pb.Next() {
				if status, err := d.Get(); err != nil || status != 200 {
					b.Errorf("credential request = %d, %v", status, err)
					return
				}
			}
		})
	})
	b.Run("service", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := svc.SessionCredentials(ctx, caller, ports.SessionCredentialsInput{SessionID: session}); err != nil {
					b.Errorf("SessionCredentials: %v", err)
					return
				}
			}
		})
	})
}
