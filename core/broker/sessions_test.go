package broker_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/broker"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/lock"
	"github.com/sentinel-gw/sentinel/ports"
)

func TestOpenSessionRecordsTheCaller(t *testing.T) {
	tm := newTeam(t)
	s := tm.replica(t)
	out := open(t, s, alice, "dev")
	got := out.Session
	if got.User != "alice" || got.UserARN != alice.ARN || got.Profile != "dev" || got.Status != ports.SessionActive ||
		got.ServerInstanceID == "" || got.IdentitySource != "sts" || !got.ExpiresAt.Equal(t0.Add(out.Lease)) {
		t.Errorf("opened session = %+v, want alice's active dev session leased for %s", got, out.Lease)
	}
	if out.Warning != "" || out.Heartbeat <= 0 || out.Lease <= out.Heartbeat {
		t.Errorf("open output = %+v, want no warning and a heartbeat shorter than the lease", out)
	}
	if other := open(t, s, alice, "dev"); other.Session.ServerInstanceID == got.ServerInstanceID {
		t.Error("two opens share a server instance id")
	}
	if stored, err := tm.store.GetSession(t.Context(), got.ID); err != nil || stored.UserARN != alice.ARN {
		t.Errorf("stored session = %+v, %v; want it with alice's ARN", stored, err)
	}
	// Policy denies prod right now: the open warns, it does not refuse.
	if prod := open(t, s, alice, "prod"); prod.Warning == "" {
		t.Error("opening prod without an approval gives no warning")
	}
	_, err := s.OpenSession(t.Context(), alice, ports.OpenSessionInput{Profile: "staging"})
	wantIs(t, "open an unknown profile", err, ports.ErrInvalidArgument)
	_, err = s.OpenSession(t.Context(), ports.Identity{Name: "alice", Source: "os"}, ports.OpenSessionInput{Profile: "dev"})
	wantIs(t, "open without a verified ARN", err, ports.ErrUnauthenticated)
}

func TestOnlyTheOwnerUsesASession(t *testing.T) {
	tm := newTeam(t)
	s := tm.replica(t)
	id := open(t, s, alice, "dev").Session.ID
	if err := creds(s, alice, id); err != nil {
		t.Fatalf("owner's credentials: %v", err)
	}
	// s has the session's gateway cached; a fresh replica reads the store.
	// Neither serves, heartbeats or closes it for anyone but its owner: not
	// an admin, not a role session that calls itself alice.
	for _, who := range []ports.Identity{mallory, carol, alias} {
		for _, svc := range []*broker.Service{s, tm.replica(t)} {
			wantIs(t, who.ARN+": credentials", creds(svc, who, id), ports.ErrForbidden)
			_, err := svc.Heartbeat(t.Context(), who, id)
			wantIs(t, who.ARN+": heartbeat", err, ports.ErrForbidden)
			wantIs(t, who.ARN+": close", svc.CloseSession(t.Context(), who, id), ports.ErrForbidden)
		}
	}
	if err := creds(s, alice, id); err != nil {
		t.Fatalf("the owner after the refusals: %v", err)
	}
	// The heartbeat renews the lease and records the requests served here.
	tm.clock.Advance(10 * time.Second)
	hb, err := s.Heartbeat(t.Context(), alice, id)
	if err != nil {
		t.Fatal(err)
	}
	if !hb.ExpiresAt.Equal(tm.clock.Now().Add(60*time.Second)) || hb.RequestCount != 2 || !hb.LastAccessAt.Equal(tm.clock.Now()) {
		t.Errorf("after a heartbeat: expires %s, %d requests, last access %s; want a renewed lease and 2 requests",
			hb.ExpiresAt, hb.RequestCount, hb.LastAccessAt)
	}
	if hb, err = s.Heartbeat(t.Context(), alice, id); err != nil || hb.RequestCount != 2 {
		t.Errorf("second heartbeat: %d requests, %v; want the count unchanged", hb.RequestCount, err)
	}
	// Closing ends it: no more credentials, heartbeats or closes.
	if err := s.CloseSession(t.Context(), alice, id); err != nil {
		t.Fatal(err)
	}
	var ended *gateway.SessionEndedError
	if err := creds(s, alice, id); !errors.As(err, &ended) {
		t.Errorf("credentials after close: err = %v, want SessionEndedError", err)
	}
	if err := creds(tm.replica(t), alice, id); !errors.As(err, &ended) {
		t.Errorf("credentials after close via another replica: err = %v, want SessionEndedError", err)
	}
	if _, err := s.Heartbeat(t.Context(), alice, id); !errors.As(err, &ended) {
		t.Errorf("heartbeat after close: err = %v, want SessionEndedError", err)
	}
	wantIs(t, "credentials for no such session", creds(s, alice, "0123456789abcdef0123456789abcdef"), ports.ErrNotFound)
	wantIs(t, "credentials for a malformed id", creds(s, alice, "nope"), ports.ErrInvalidArgument)
}

func TestLapsedSessionRefused(t *testing.T) {
	tm := newTeam(t)
	s := tm.replica(t)
	id := open(t, s, alice, "dev").Session.ID
	tm.clock.Advance(61 * time.Second) // no heartbeat within the lease
	var ended *gateway.SessionEndedError
	if err := creds(s, alice, id); !errors.As(err, &ended) {
		t.Errorf("credentials of a lapsed session: err = %v, want SessionEndedError", err)
	}
	if _, err := s.Heartbeat(t.Context(), alice, id); !errors.As(err, &ended) {
		t.Errorf("heartbeat of a lapsed session: err = %v, want SessionEndedError", err)
	}
}

func TestRevokeThroughOneReplicaRefusedByAnother(t *testing.T) {
	tm := newTeam(t)
	r1, r2 := tm.replica(t), tm.replica(t)
	id := open(t, r1, alice, "dev").Session.ID
	for _, r := range []*broker.Service{r1, r2} {
		if err := creds(r, alice, id); err != nil {
			t.Fatalf("before the revoke: %v", err)
		}
	}
	calls := tm.source.calls.Load()
	out, err := r1.Revoke(t.Context(), carol, ports.RevokeInput{ID: id[:10], Reason: "laptop stolen"})
	if err != nil || len(out.Revoked) != 1 || out.Revoked[0].RevokedBy != carol.ARN {
		t.Fatalf("admin revoke by prefix = %+v, %v; want the session revoked by carol's ARN", out, err)
	}
	// r2 has the session's gateway and a cached credential: the very next
	// request is refused all the same, with nothing asked of the source.
	var revoked *gateway.RevokedError
	if err := creds(r2, alice, id); !errors.As(err, &revoked) || revoked.Reason != "laptop stolen" {
		t.Fatalf("next request via the other replica: err = %v, want RevokedError", err)
	}
	if err := creds(tm.replica(t), alice, id); !errors.As(err, &revoked) {
		t.Errorf("a third replica: err = %v, want RevokedError", err)
	}
	if n := tm.source.calls.Load(); n != calls {
		t.Errorf("the source was asked %d more times after the revoke", n-calls)
	}
	out, err = r2.Revoke(t.Context(), carol, ports.RevokeInput{ID: id, Reason: "again"})
	if err != nil || !out.AlreadyEnded || len(out.Revoked) != 1 || out.Revoked[0].RevokedReason != "laptop stolen" {
		t.Errorf("revoking it again = %+v, %v; want AlreadyEnded with the record as the first revoke left it", out, err)
	}
}

func TestPolicyChangeAppliesToTheNextRequest(t *testing.T) {
	tm := newTeam(t)
	s := tm.replica(t)
	id := open(t, s, alice, "dev").Session.ID
	if err := creds(s, alice, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListSessions(t.Context(), carol, ports.ListSessionsInput{User: "alice"}); err != nil {
		t.Fatalf("admin listing: %v", err)
	}
	tm.policy.set(t, `version: "1"
rules:
  - name: dev-closed
    effect: deny
    conditions:
      profiles: [dev]
    reason: dev is closed for the audit
`)
	var denied *gateway.DeniedError
	if err := creds(s, alice, id); !errors.As(err, &denied) || denied.Rule != "dev-closed" {
		t.Errorf("next request after the policy change: err = %v, want a denial by dev-closed", err)
	}
	// carol is no longer an admin either.
	_, err := s.ListSessions(t.Context(), carol, ports.ListSessionsInput{User: "alice"})
	wantIs(t, "listing alice's sessions after carol left admins", err, ports.ErrForbidden)
	// A policy that cannot be read fails closed.
	tm.policy.fail(errors.New("policy file unreadable"))
	if err := creds(s, alice, id); !errors.As(err, &denied) {
		t.Errorf("with the policy unreadable: err = %v, want a denial", err)
	}
	wantIs(t, "ready with the policy unreadable", s.Ready(t.Context()), ports.ErrUnavailable)
}

func TestLockRefusesOpenAndCredentials(t *testing.T) {
	tm := newTeam(t)
	s := tm.replica(t)
	id := open(t, s, alice, "dev").Session.ID
	if err := creds(s, alice, id); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.store.CreateLock(t.Context(), ports.Lock{ID: "11111111111111111111111111111111", Kind: ports.LockUser,
		Target: alice.ARN, Reason: "incident 4711", CreatedBy: carol.ARN, CreatedAt: tm.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	tm.clock.Advance(lock.Bound + time.Millisecond) // the checker reads the locks at most once per bound
	var locked *gateway.LockedError
	if _, err := s.OpenSession(t.Context(), alice, ports.OpenSessionInput{Profile: "dev"}); !errors.As(err, &locked) {
		t.Errorf("open while locked: err = %v, want LockedError", err)
	}
	if err := creds(s, alice, id); !errors.As(err, &locked) {
		t.Errorf("credentials while locked: err = %v, want LockedError", err)
	}
	if _, err := s.OpenSession(t.Context(), bob, ports.OpenSessionInput{Profile: "dev"}); err != nil {
		t.Errorf("bob is not locked: %v", err)
	}
}

func TestSessionListingAndShowByRole(t *testing.T) {
	tm := newTeam(t)
	s := tm.replica(t)
	mine := open(t, s, alice, "dev").Session
	tm.clock.Advance(time.Second)
	aliased := open(t, s, alias, "dev").Session // same name, another principal
	tm.clock.Advance(time.Second)
	bobs := open(t, s, bob, "dev").Session

	page, err := s.ListSessions(t.Context(), alice, ports.ListSessionsInput{})
	if err != nil || len(page.Sessions) != 1 || page.Sessions[0].ID != mine.ID {
		t.Errorf("alice's listing = %+v, %v; want only her own session (not the alias's)", page.Sessions, err)
	}
	for _, in := range []ports.ListSessionsInput{{User: "bob"}, {User: "carol"}} {
		_, err := s.ListSessions(t.Context(), alice, in)
		wantIs(t, "alice listing user "+in.User, err, ports.ErrForbidden)
	}
	page, err = s.ListSessions(t.Context(), carol, ports.ListSessionsInput{Limit: 2})
	if err != nil || len(page.Sessions) != 2 || page.Sessions[0].ID != bobs.ID || page.Sessions[1].ID != aliased.ID || page.Next == "" {
		t.Fatalf("admin's first page = %+v, %v; want bob's then the alias's session, and more", page, err)
	}
	page, err = s.ListSessions(t.Context(), carol, ports.ListSessionsInput{Limit: 2, Cursor: page.Next})
	if err != nil || len(page.Sessions) != 1 || page.Sessions[0].ID != mine.ID || page.Next != "" {
		t.Errorf("admin's second page = %+v, %v; want alice's session, last", page, err)
	}
	if got, err := s.ShowSession(t.Context(), alice, mine.ID[:8]); err != nil || got.ID != mine.ID {
		t.Errorf("alice shows her own by prefix: %+v, %v", got, err)
	}
	_, err = s.ShowSession(t.Context(), alice, bobs.ID)
	wantIs(t, "alice shows bob's by id", err, ports.ErrForbidden)
	_, err = s.ShowSession(t.Context(), alice, bobs.ID[:8])
	wantIs(t, "alice shows bob's by prefix", err, ports.ErrNotFound)
	if got, err := s.ShowSession(t.Context(), carol, bobs.ID[:8]); err != nil || got.ID != bobs.ID {
		t.Errorf("admin shows bob's by prefix: %+v, %v", got, err)
	}
}

func TestRevokeByRole(t *testing.T) {
	tm := newTeam(t)
	s := tm.replica(t)
	mine := open(t, s, alice, "dev").Session
	aliased := open(t, s, alias, "dev").Session
	bobs := open(t, s, bob, "dev").Session

	for _, in := range []ports.RevokeInput{{ID: bobs.ID}, {User: "bob"}, {Profile: "dev"}} {
		in.Reason = "because"
		_, err := s.Revoke(t.Context(), alice, in)
		wantIs(t, "alice revokes "+in.ID+in.User+in.Profile, err, ports.ErrForbidden)
	}
	_, err := s.Revoke(t.Context(), alice, ports.RevokeInput{ID: mine.ID})
	wantIs(t, "a revoke without a reason", err, ports.ErrInvalidArgument)
	_, err = s.Revoke(t.Context(), alice, ports.RevokeInput{ID: mine.ID, User: "alice", Reason: "x"})
	wantIs(t, "a revoke with two targets", err, ports.ErrInvalidArgument)

	// alice's bulk revoke of "alice" ends her own session, not the alias's.
	out, err := s.Revoke(t.Context(), alice, ports.RevokeInput{User: "alice", Reason: "done for today"})
	if err != nil || len(out.Revoked) != 1 || out.Revoked[0].ID != mine.ID {
		t.Fatalf("alice's own bulk revoke = %+v, %v; want only her session", out, err)
	}
	for _, sess := range []ports.Session{aliased, bobs} {
		if got, _ := tm.store.GetSession(t.Context(), sess.ID); got.Status != ports.SessionActive {
			t.Errorf("session of %s is %s after alice's bulk revoke, want active", sess.UserARN, got.Status)
		}
	}
	// The admin revokes a whole profile.
	out, err = s.Revoke(t.Context(), carol, ports.RevokeInput{Profile: "dev", Reason: "rotate"})
	if err != nil || len(out.Revoked) != 2 {
		t.Errorf("admin's profile revoke = %+v, %v; want the two active sessions", out, err)
	}
}

func TestOneShot(t *testing.T) {
	tm := newTeam(t)
	s := tm.replica(t)
	for _, mode := range []string{"cli", "credential_process", "console"} {
		c, err := s.OneShot(t.Context(), alice, ports.OneShotInput{Profile: "dev", Mode: mode, Duration: 30 * time.Minute})
		if err != nil || c.AccessKeyID == "" || c.Expires.After(tm.clock.Now().Add(30*time.Minute)) {
			t.Errorf("%s: %+v, %v; want credentials capped at 30m", mode, c, err)
		}
	}
	last := tm.source.requests()
	if si := last[len(last)-1].SourceIdentity; si == "" {
		t.Error("the one-shot asked STS without a SourceIdentity")
	}
	for _, mode := range []string{"server", "daemon", ""} {
		_, err := s.OneShot(t.Context(), alice, ports.OneShotInput{Profile: "dev", Mode: mode})
		wantIs(t, "one-shot in mode "+mode, err, ports.ErrInvalidArgument)
	}
	var denied *gateway.DeniedError
	if _, err := s.OneShot(t.Context(), alice, ports.OneShotInput{Profile: "prod", Mode: "cli"}); !errors.As(err, &denied) {
		t.Errorf("prod without approval: err = %v, want a denial", err)
	}
}

func TestReady(t *testing.T) {
	tm := newTeam(t)
	if err := tm.replica(t).Ready(t.Context()); err != nil {
		t.Errorf("Ready: %v", err)
	}
	if id, err := tm.replica(t).WhoAmI(t.Context(), carol); err != nil || id != carol {
		t.Errorf("WhoAmI = %+v, %v", id, err)
	}
}

// A revoked record written back to active behind Sentinel's back (a
// direct store write) revives nothing on a replica that saw the revoke:
// neither credentials nor a heartbeat's renewal.
func TestRevokeRememberedWhenTheRecordIsWrittenActiveAgain(t *testing.T) {
	tm := newTeam(t)
	r := tm.replica(t)
	id := open(t, r, alice, "dev").Session.ID
	if _, err := r.Revoke(t.Context(), alice, ports.RevokeInput{ID: id, Reason: "done"}); err != nil {
		t.Fatal(err)
	}
	var revoked *gateway.RevokedError
	if err := creds(r, alice, id); !errors.As(err, &revoked) {
		t.Fatalf("after the revoke: %v, want refused as revoked", err)
	}
	cur, err := tm.store.GetSession(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	cur.Status, cur.RevokedBy, cur.RevokedReason, cur.RevokedAt = ports.SessionActive, "", "", time.Time{}
	if _, err := tm.store.UpdateSession(t.Context(), cur); err != nil {
		t.Fatal(err)
	}
	if err := creds(r, alice, id); !errors.As(err, &revoked) || revoked.Reason != "done" {
		t.Errorf("credentials after the un-revoke: %v, want the remembered revoke", err)
	}
	if _, err := r.Heartbeat(t.Context(), alice, id); !errors.As(err, &revoked) || revoked.Reason != "done" {
		t.Errorf("heartbeat after the un-revoke: %v, want the remembered revoke", err)
	}
	if got, err := tm.store.GetSession(t.Context(), id); err != nil || got.Version != cur.Version+1 {
		t.Errorf("the heartbeat wrote the un-revoked record (version %d, %v); want it left as the writer left it", got.Version, err)
	}
}

func TestRevokeRememberedWhenTheRecordIsLost(t *testing.T) {
	tm := newTeam(t)
	faulty := &faultyStore{Store: tm.store}
	onFaulty := func(d *broker.Deps) { d.Stores = faulty }
	r1, r2 := tm.replicaWith(t, onFaulty), tm.replicaWith(t, onFaulty)
	id := open(t, r1, alice, "dev").Session.ID
	if err := creds(r2, alice, id); err != nil {
		t.Fatal(err)
	}
	if _, err := r1.Revoke(t.Context(), alice, ports.RevokeInput{ID: id, Reason: "done"}); err != nil {
		t.Fatal(err)
	}
	if err := creds(r2, alice, id); err == nil {
		t.Fatal("served after the revoke")
	}
	// The record vanishes, then the store goes away: both replicas, which
	// have seen the revoke, still say so.
	var revoked *gateway.RevokedError
	for _, fault := range []*atomic.Bool{&faulty.lost, &faulty.down} {
		fault.Store(true)
		for i, r := range []*broker.Service{r1, r2} {
			if err := creds(r, alice, id); !errors.As(err, &revoked) {
				t.Errorf("replica %d: credentials: err = %v, want the remembered revoke", i+1, err)
			}
			if _, err := r.Heartbeat(t.Context(), alice, id); !errors.As(err, &revoked) {
				t.Errorf("replica %d: heartbeat: err = %v, want the remembered revoke", i+1, err)
			}
		}
	}
	// A replica that never saw it refuses too: the record is gone, the
	// store down; nothing is served unchecked.
	faulty.down.Store(false)
	wantIs(t, "a fresh replica, record lost", creds(tm.replicaWith(t, onFaulty), alice, id), ports.ErrNotFound)
}

func TestStoreDownFailsClosed(t *testing.T) {
	tm := newTeam(t)
	faulty := &faultyStore{Store: tm.store}
	s := tm.replicaWith(t, func(d *broker.Deps) { d.Stores = faulty })
	id := open(t, s, alice, "dev").Session.ID
	if err := creds(s, alice, id); err != nil {
		t.Fatal(err)
	}
	faulty.down.Store(true)
	var storeErr *gateway.StoreError
	if err := creds(s, alice, id); !errors.As(err, &storeErr) {
		t.Errorf("credentials with the store down: err = %v, want a StoreError (a broker denies by default)", err)
	}
	if err := s.Ready(t.Context()); err == nil {
		t.Error("Ready with the store down reports ready")
	}
}

func TestGatewaysBounded(t *testing.T) {
	tm := newTeam(t)
	s := tm.replicaWith(t, func(d *broker.Deps) { d.MaxGateways = 1 })
	a := open(t, s, alice, "dev").Session.ID
	b := open(t, s, bob, "dev").Session.ID
	// Each new session evicts the other's gateway; both keep being served,
	// and a revoke of an evicted one is still refused.
	for range 3 {
		if err := creds(s, alice, a); err != nil {
			t.Fatal(err)
		}
		if err := creds(s, bob, b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tm.replica(t).Revoke(t.Context(), carol, ports.RevokeInput{ID: a, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	var revoked *gateway.RevokedError
	if err := creds(s, alice, a); !errors.As(err, &revoked) {
		t.Errorf("evicted session after a revoke elsewhere: err = %v, want RevokedError", err)
	}
}
