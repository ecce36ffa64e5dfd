package broker_test

import (
	"io"
	"testing"

	"github.com/sentinel-gw/sentinel/adapters/jsonlog"
	"github.com/sentinel-gw/sentinel/core/broker"
	"github.com/sentinel-gw/sentinel/ports"
)

// BenchmarkSessionCredentials is one credential request of an open session
// at a broker, on a cached credential: owner check, locks, policy, the
// session read from the (memory) store, cap, decision-log line (encoded,
// written to io.Discard). Compare with core/gateway's BenchmarkIssue, which
// answers the revocation check from a View's memory instead of a read.
func BenchmarkSessionCredentials(b *testing.B) {
	tm := newTeam(b)
	s := tm.replicaWith(b, func(d *broker.Deps) { d.Log = jsonlog.New(io.Discard) })
	out, err := s.OpenSession(b.Context(), alice, ports.OpenSessionInput{Profile: "dev"})
	if err != nil {
		b.Fatal(err)
	}
	in := ports.SessionCredentialsInput{SessionID: out.Session.ID, RequestID: "0123456789abcdef"}
	if _, err := s.SessionCredentials(b.Context(), alice, in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.SessionCredentials(b.Context(), alice, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
