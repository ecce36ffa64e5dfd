// Package conformance is the one suite every store adapter passes: sessions
// (ports.SessionStore), approval requests (ports.ApprovalStore) and
// break-glass events (ports.BreakGlassStore).
//
// An adapter's test file is a few lines:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t *testing.T, clock ports.Clock) conformance.Backend {
//			s := open(t, clock)
//			return conformance.Backend{Store: s, Approvals: s, BreakGlass: s, ...}
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
// Decisions the suite pins for every backend, for all three record types:
//   - Times keep at least Precision (one microsecond), truncating finer
//     digits (never rounding), and come back in UTC; a zero time comes back
//     zero. Durations and integers round-trip exactly.
//   - Create stores the caller's fields as given (CreatedAt and UpdatedAt
//     included) and only sets Version to 1. An empty id or a status outside
//     the type's Valid set is ErrInvalidArgument, and nothing is stored.
//   - Update writes only when the stored Version equals the caller's, and
//     writes Version+1. A record that does not exist is ErrNotFound whatever
//     the caller's Version (checked before ErrConflict); a version mismatch is
//     ErrConflict, an unknown status ErrInvalidArgument, and both leave the
//     record untouched. The store does not judge transitions: the core does.
//   - Reads decide expiry with the injected clock: a lapsed active session, a
//     lapsed pending or approved request, a lapsed active break-glass event
//     (ExpiresAt at or before now, never a zero ExpiresAt) reads as expired
//     with its Version unchanged; Create and Update return the record as it
//     reads, the same as a Get right after.
//   - Listings are newest first (CreatedAt descending, then ID descending),
//     ByStatus filters on the effective status and refuses an unknown status
//     with ErrInvalidArgument, a bad limit or cursor is ErrInvalidArgument,
//     and the last page has an empty Next, even when it is exactly full.
//   - ExpireLapsedX judges by its now argument (not the store's clock),
//     writes each change conditionally (it never overwrites a concurrent
//     revoke, cancel or close), stores Status expired, UpdatedAt = now and
//     Version+1 and nothing else, and returns exactly how many records of its
//     own store it changed.
//   - CreateBreakGlass refuses with ErrAlreadyExists, naming the id of the
//     event in the way, a new effectively active event while the same
//     invoker already has an effectively active event for the same profile,
//     atomically (of 8 racing creators exactly one wins), across handles. A
//     closed, expired or lapsed event never blocks, and a new event that is
//     not itself effectively active is never refused for this reason.
//   - A record that cannot be decoded is reported as an error wrapping
//     ports.ErrCorrupt whose text names the record's id, by Get and by any
//     listing that reaches it; it is never skipped silently, never a panic,
//     never a zero record with a nil error. Touch and update of such a record
//     fail; ExpireLapsedX skips it or fails with ErrCorrupt.
//   - TouchSession moves UpdatedAt later; whether to the clock's now or to
//     the touch's time is the backend's choice.
//   - A revoker's Announce (Features.Feed) returns nil only once the
//     session's server has acknowledged the announced version or a later
//     one (the feed's Ack, or in poll mode the record's AckRead); with no
//     acknowledgement it fails when its context ends; a push feed says
//     ErrNoListener at once when nobody follows, starts with FeedResumed,
//     and reports a cut as FeedLost, then FeedResumed once it follows anew.
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
	// Approvals and BreakGlass are the same backend's other stores, in the
	// same namespace (usually the very value in Store). They are not
	// optional: a nil one skips its tests locally and fails them under CI,
	// whatever Features.Waived says.
	Approvals  ports.ApprovalStore
	BreakGlass ports.BreakGlassStore
	// Locks is the same backend's lock store, under the same rule.
	Locks ports.LockStore
	// OpenAnother opens a second, independent handle on the same backend and
	// namespace (two processes sharing a store), reading the same clock and
	// registering its own cleanup. Nil when unsupported. When Approvals or
	// BreakGlass is set, the handle it returns must implement that port too.
	OpenAnother func(t *testing.T) ports.SessionStore
	// PutCorruptRecord writes malformed or foreign data where the record of
	// this kind and id would live, replacing any record already there. Nil
	// when unsupported.
	PutCorruptRecord func(t *testing.T, kind Kind, id string)
	// PutCorrupt is PutCorruptRecord for sessions only, used when
	// PutCorruptRecord is nil.
	//
	// Deprecated: set PutCorruptRecord, which reaches every record type.
	PutCorrupt func(t *testing.T, id string)
	// BreakFeed cuts the feed that Store follows for session s, so that the
	// feed must report FeedLost; the function it returns opens the way
	// again, so that the feed can follow anew. Nil when unsupported
	// (Features.FeedGaps).
	BreakFeed func(t *testing.T, s ports.Session) (heal func())
}

// Kind names a record type for Backend.PutCorruptRecord.
type Kind string

// The record types a backend stores.
const (
	KindSession    Kind = "session"
	KindRequest    Kind = "request"
	KindBreakGlass Kind = "breakglass"
)

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
	// CorruptInjection: Backend.PutCorruptRecord (or, for sessions only, the
	// older PutCorrupt) can write foreign data for an id.
	CorruptInjection bool
	// Feed is how a revoker learns that the running server has read a
	// change (FeedPush or FeedPoll); the Feed group's tests need it and
	// Backend.OpenAnother.
	Feed FeedMode
	// FeedGaps: Backend.BreakFeed can cut a push feed, which then reports
	// FeedLost, and FeedResumed once the way is open again.
	FeedGaps bool
	// Waivers says, per feature ("Feed", "FeedGaps", ...), why this backend
	// legitimately lacks it: e.g. a store that polls has no feed to lose.
	// A waiver skips that feature's tests with its reason even under CI.
	Waivers map[string]string
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
	t.Run("ActiveListing", s.testActiveListing)
	t.Run("Stats", s.testStats)
	t.Run("Retention", s.testRetention)
	t.Run("Revoke", s.testRevoke)
	t.Run("Expiry", s.testExpiry)
	t.Run("Concurrency", s.testConcurrency)
	t.Run("SharedHandles", s.testSharedHandles)
	t.Run("Corrupt", s.testCorrupt)
	t.Run("Approvals", s.testApprovals)
	t.Run("BreakGlass", s.testBreakGlass)
	t.Run("ReadAck", s.testReadAck)
	t.Run("Locks", s.testLocks)
	t.Run("Feed", s.testFeed)
}

// RunFeed runs only the Feed group, for a backend that has more than one
// way to feed (bbolt's socket flavours) and runs Run with one of them.
func RunFeed(t *testing.T, factory Factory, features Features) {
	t.Helper()
	if factory == nil {
		t.Fatal("conformance: nil factory")
	}
	s := suite{factory: factory, features: features, ci: os.Getenv("CI") != ""}
	t.Run("Feed", s.testFeed)
}

type suite struct {
	factory  Factory
	features Features
	ci       bool
}

// env is what one subtest works with: its own clock, stores and namespace.
type env struct {
	clock   *ports.FakeClock
	backend Backend
	store   ports.SessionStore
	ns      string
	// approvals and breakglass are set by openApprovals and openBreakGlass.
	approvals  ports.ApprovalStore
	breakglass ports.BreakGlassStore
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

// openApprovals is open for a test of the approval store.
func (s suite) openApprovals(t *testing.T) env {
	t.Helper()
	e := s.open(t)
	s.requireStore(t, "Approvals", e.backend.Approvals != nil)
	e.approvals = e.backend.Approvals
	return e
}

// openBreakGlass is open for a test of the break-glass store.
func (s suite) openBreakGlass(t *testing.T) env {
	t.Helper()
	e := s.open(t)
	s.requireStore(t, "BreakGlass", e.backend.BreakGlass != nil)
	e.breakglass = e.backend.BreakGlass
	return e
}

// requireStore skips (or, under CI, fails) t when the backend left a store
// out. No waiver applies: every backend must offer every store.
func (s suite) requireStore(t *testing.T, field string, have bool) {
	t.Helper()
	skip, fail := storeGate(field, have, s.ci)
	if fail != "" {
		t.Fatal(fail)
	}
	if skip != "" {
		t.Skip(skip)
	}
}

// storeGate decides what a test of the store in Backend.field does when the
// field may be nil: run, skip locally, or fail under CI.
func storeGate(field string, have, ci bool) (skip, fail string) {
	switch {
	case have:
		return "", ""
	case ci:
		return "", "Backend." + field + " is nil and CI is set: every backend must offer this store (no waiver applies)"
	default:
		return "Backend." + field + " is nil: this backend does not offer the store yet", ""
	}
}

// require skips (or, under CI, fails) t when the backend lacks the feature.
func (s suite) require(t *testing.T, name string, have bool) {
	t.Helper()
	skip, fail := gate(name, have, s.features.waiver(name), s.ci)
	if fail != "" {
		t.Fatal(fail)
	}
	if skip != "" {
		t.Skip(skip)
	}
}

// waiver is why the backend lacks feature name: its own entry in Waivers,
// else the backend-wide Waived, else "".
func (f Features) waiver(name string) string {
	if w := f.Waivers[name]; w != "" {
		return w
	}
	return f.Waived
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
