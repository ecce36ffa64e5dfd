// Package conformance is the one suite every SessionStore adapter passes.
//
// An adapter's test file is a few lines:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t *testing.T, clock ports.Clock) conformance.Backend {
//			return conformance.Backend{Store: open(t, clock)}
//		}, conformance.Features{...})
//	}
//
// The suite owns the clock: every subtest makes its own ports.FakeClock and
// asks the factory for a fresh store reading that clock. Every subtest runs in
// parallel and uses ids, users, profiles and instances made fresh for it, so
// all of them can share one real server.
//
// -short cuts the long races (1,000 touch-versus-revoke rounds) tenfold for
// quick local runs; CI runs them in full.
//
// Decisions the suite pins for every backend:
//   - Times keep at least Precision (one microsecond), truncating finer
//     digits (never rounding), and come back in UTC; a zero time comes back zero.
//   - CreateSession stores the caller's fields as given (CreatedAt and
//     UpdatedAt included) and only sets Version to 1.
//   - The last page of a listing has an empty Next, even when it is exactly full.
//   - A record that cannot be decoded is reported as an error wrapping
//     ports.ErrCorrupt whose text names the record's id, by GetSession and by
//     any listing that reaches it; it is never skipped silently, never a panic,
//     never a zero Session with a nil error. Touch and update of such a record
//     fail; ExpireLapsedSessions skips it or fails with ErrCorrupt.
//   - TouchSession moves UpdatedAt later; whether to the clock's now or to
//     the touch's time is the backend's choice.
//   - ExpireLapsedSessions counts exactly the records of its own store that
//     it changed.
package conformance

import (
	"os"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Precision is the time resolution every backend must keep. Finer digits may
// be dropped, by truncation toward the past.
const Precision = time.Microsecond

// Backend is one freshly opened store plus the hooks for the optional tests.
type Backend struct {
	Store ports.SessionStore
	// OpenAnother opens a second, independent handle on the same backend and
	// namespace (two processes sharing a store), reading the same clock and
	// registering its own cleanup. Nil when unsupported.
	OpenAnother func(t *testing.T) ports.SessionStore
	// PutCorrupt writes malformed or foreign data where the session with this
	// id would live, replacing any record already there. Nil when unsupported.
	PutCorrupt func(t *testing.T, id string)
}

// Factory returns a fresh, isolated store (its own table, key prefix or file)
// that reads time from clock, and registers its own cleanup with t.Cleanup.
// It fails t (never panics) when the store cannot be opened.
type Factory func(t *testing.T, clock ports.Clock) Backend

// Features lists guarantees a backend may lack, one per optional test group.
// A test that needs a missing one skips, naming the reason; under CI (the
// environment variable CI set) it fails instead, because every shipped
// backend must support everything, unless Waived explains why not.
type Features struct {
	// SharedHandles: Backend.OpenAnother gives a second handle, and each
	// handle sees the other's writes on its very next read.
	SharedHandles bool
	// CorruptInjection: Backend.PutCorrupt can write foreign data for an id.
	CorruptInjection bool
	// Waived is why this backend legitimately lacks every feature left false
	// above, e.g. "in-process only: no second handle or raw bytes exist".
	// When set, those tests skip with this reason even under CI. Only the
	// in-memory reference store sets it.
	Waived string
}

// Run runs the whole suite against the backend that factory opens.
func Run(t *testing.T, factory Factory, features Features) {
	t.Helper()
	if factory == nil {
		t.Fatal("conformance: nil factory")
	}
	s := suite{factory: factory, features: features, ci: os.Getenv("CI") != ""}
	t.Run("Create", s.testCreate)
	t.Run("Get", s.testGet)
	t.Run("Update", s.testUpdate)
	t.Run("Touch", s.testTouch)
	t.Run("Listing", s.testListing)
	t.Run("Revoke", s.testRevoke)
	t.Run("Expiry", s.testExpiry)
	t.Run("Concurrency", s.testConcurrency)
	t.Run("SharedHandles", s.testSharedHandles)
	t.Run("Corrupt", s.testCorrupt)
}

type suite struct {
	factory  Factory
	features Features
	ci       bool
}

// env is what one subtest works with: its own clock, store and namespace.
type env struct {
	clock   *ports.FakeClock
	backend Backend
	store   ports.SessionStore
	ns      string
}

// clockStart is where every fake clock starts: a fixed instant, so failures
// reproduce, on a whole microsecond so boundary tests are exact.
var clockStart = time.Date(2031, time.March, 14, 9, 26, 53, 589_793_000, time.UTC)

// open gives a parallel subtest its own clock, store and namespace.
func (s suite) open(t *testing.T) env {
	t.Helper()
	clock := ports.NewFakeClock(clockStart)
	b := s.factory(t, clock)
	if b.Store == nil {
		t.Fatal("conformance: factory returned a nil Store")
	}
	return env{clock: clock, backend: b, store: b.Store, ns: newNamespace()}
}

// require skips (or, under CI, fails) t when the backend lacks the feature.
func (s suite) require(t *testing.T, name string, have bool) {
	t.Helper()
	skip, fail := gate(name, have, s.features.Waived, s.ci)
	if fail != "" {
		t.Fatal(fail)
	}
	if skip != "" {
		t.Skip(skip)
	}
}

// gate decides what a test needing feature name does: run (both empty), skip
// with a reason, or fail with a reason.
func gate(name string, have bool, waived string, ci bool) (skip, fail string) {
	switch {
	case have:
		return "", ""
	case waived != "":
		return "backend lacks " + name + ": " + waived, ""
	case ci:
		return "", "backend lacks feature " + name + " and CI is set: every shipped backend must support it (set Features.Waived only for the in-memory store)"
	default:
		return "backend does not declare feature " + name, ""
	}
}
