package redisstore

import (
	"testing"

	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/ports"
)

// Both benchmarks run against the real server: one round trip each (HGETALL,
// or EVALSHA of the touch script), so ns/op is mostly loopback latency.

func benchStore(b *testing.B) (*Store, string) {
	b.Helper()
	url := testenv.Redis(b)
	s := openStore(b, url, newPrefix(b, url), ports.NewFakeClock(testStart))
	id := newID()
	if _, err := s.CreateSession(b.Context(), activeSession(id, "alice", testStart)); err != nil {
		b.Fatal(err)
	}
	return s, id
}

func BenchmarkGetSession(b *testing.B) {
	s, id := benchStore(b)
	for b.Loop() {
		if _, err := s.GetSession(b.Context(), id); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTouchSession(b *testing.B) {
	s, id := benchStore(b)
	for b.Loop() {
		if _, err := s.TouchSession(b.Context(), id, testStart, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetSessionParallel is many request goroutines sharing one store,
// as a busy credential server does.
func BenchmarkGetSessionParallel(b *testing.B) {
	s, id := benchStore(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.GetSession(b.Context(), id); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBaselinePing is one bare round trip to the same server: the floor
// the two above are measured against.
func BenchmarkBaselinePing(b *testing.B) {
	s, _ := benchStore(b)
	for b.Loop() {
		if err := s.client.Ping(b.Context()).Err(); err != nil {
			b.Fatal(err)
		}
	}
}
