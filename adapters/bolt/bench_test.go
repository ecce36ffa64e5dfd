package bolt

import (
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/ports"
)

// The store opens the file for every operation. These benchmarks give that
// per-request cost next to the same transaction on a file held open.

const benchID = "0123456789abcdef0123456789abcdef"

func benchStore(b *testing.B, noSync bool) *Store {
	b.Helper()
	clock := ports.NewFakeClock(testStart)
	s, err := Open(filepath.Join(b.TempDir(), "sessions.db"), clock, Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreateSession(b.Context(), activeSession(benchID, "alice", testStart)); err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkGetSession(b *testing.B) {
	s := benchStore(b, false)
	for b.Loop() {
		if _, err := s.GetSession(b.Context(), benchID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTouchSession(b *testing.B) {
	for _, bc := range []struct {
		name   string
		noSync bool
	}{{"fsync", false}, {"nosync", true}} {
		b.Run(bc.name, func(b *testing.B) {
			s := benchStore(b, bc.noSync)
			for b.Loop() {
				if _, err := s.TouchSession(b.Context(), benchID, testStart, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBaselineViewOpenDB is GetSession's transaction on a file held open.
func BenchmarkBaselineViewOpenDB(b *testing.B) {
	s := benchStore(b, false)
	db, err := bbolt.Open(s.path, fileMode, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for b.Loop() {
		err := db.View(func(tx *bbolt.Tx) error {
			_, err := sessionRecords.read(tx, benchID)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineUpdateOpenDB is TouchSession's transaction on a file held open.
func BenchmarkBaselineUpdateOpenDB(b *testing.B) {
	for _, bc := range []struct {
		name   string
		noSync bool
	}{{"fsync", false}, {"nosync", true}} {
		b.Run(bc.name, func(b *testing.B) {
			s := benchStore(b, bc.noSync)
			db, err := bbolt.Open(s.path, fileMode, &bbolt.Options{NoSync: bc.noSync})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			for b.Loop() {
				err := db.Update(func(tx *bbolt.Tx) error {
					stored, err := sessionRecords.read(tx, benchID)
					if err != nil {
						return err
					}
					rec := stored
					rec.RequestCount++
					rec.UpdatedAt = testStart.Add(time.Second)
					rec.Version++
					return sessionRecords.write(tx, &stored, rec)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
