package conformance

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// testRetention checks ports.RetentionSweeper: it deletes exactly the
// records retired at the cutoff (ended, every time they carry before it;
// a revoked session whose lease still runs is kept), hands each to the
// archive first, cleans their index entries, and keeps a record whose
// archive failed.
func (s suite) testRetention(t *testing.T) {
	t.Parallel()
	e := s.open(t)
	sweeper, ok := e.store.(ports.RetentionSweeper)
	s.requireStore(t, "Store as ports.RetentionSweeper", ok)
	s.requireStore(t, "Approvals", e.backend.Approvals != nil)
	s.requireStore(t, "BreakGlass", e.backend.BreakGlass != nil)
	ctx := t.Context()
	now := e.clock.Now()
	cutoff := now.Add(-7 * 24 * time.Hour)
	longAgo := now.Add(-30 * 24 * time.Hour)

	session := func(status ports.SessionStatus, created, ended, lease time.Time) ports.Session {
		ses := e.newSession()
		ses.Status, ses.CreatedAt, ses.StartedAt, ses.LastAccessAt, ses.UpdatedAt, ses.ExpiresAt = status, created, created, created, ended, lease
		if status == ports.SessionRevoked {
			ses.RevokedAt, ses.RevokedBy, ses.RevokedReason = ended, "conformance", "retention"
		}
		return e.create(t, ses)
	}
	oldRevoked := session(ports.SessionRevoked, longAgo, longAgo.Add(time.Hour), longAgo.Add(2*time.Hour))
	oldExpired := session(ports.SessionExpired, longAgo.Add(time.Minute), longAgo.Add(time.Hour), longAgo.Add(time.Hour))
	leaseRuns := session(ports.SessionRevoked, longAgo, longAgo.Add(time.Hour), now.Add(time.Hour))
	recent := session(ports.SessionRevoked, longAgo, now.Add(-24*time.Hour), now.Add(-24*time.Hour))
	active := session(ports.SessionActive, longAgo, longAgo, now.Add(time.Hour))

	oldReq := e.newRequest()
	oldReq.CreatedAt, oldReq.ExpiresAt = longAgo, longAgo.Add(24*time.Hour)
	oldReq = deniedAt(oldReq, "conformance", longAgo.Add(time.Hour))
	approved := approvedAt(e.newRequest(), "conformance", longAgo.Add(time.Hour))
	approved.CreatedAt = longAgo
	for _, r := range []ports.ApprovalRequest{oldReq, approved} {
		if _, err := e.backend.Approvals.CreateRequest(ctx, r); err != nil {
			t.Fatalf("CreateRequest: %v", err)
		}
	}
	oldEvent := e.newEvent()
	oldEvent.CreatedAt, oldEvent.ExpiresAt = longAgo, longAgo.Add(2*time.Hour)
	oldEvent = closedAt(oldEvent, "conformance", longAgo.Add(time.Hour))
	liveEvent := e.newEvent()
	for _, ev := range []ports.BreakGlassEvent{oldEvent, liveEvent} {
		if _, err := e.backend.BreakGlass.CreateBreakGlass(ctx, ev); err != nil {
			t.Fatalf("CreateBreakGlass: %v", err)
		}
	}

	// Break-glass events get an earlier cutoff (their rate limits count
	// them longer): the old closed event is kept this time.
	var archived []string
	cut := ports.CutoffsAt(cutoff)
	cut.BreakGlass = longAgo
	got, err := sweeper.DeleteRetired(ctx, cut, func(r ports.RetiredRecord) error {
		switch {
		case r.Session != nil:
			archived = append(archived, "session "+r.Session.ID+" "+r.Session.RevokedBy)
		case r.Request != nil:
			archived = append(archived, "request "+r.Request.ID)
		case r.BreakGlass != nil:
			archived = append(archived, "break-glass "+r.BreakGlass.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("DeleteRetired: %v", err)
	}
	if want := (ports.RetiredCounts{Sessions: 2, Requests: 1}); got != want {
		t.Errorf("DeleteRetired deleted %+v, want %+v", got, want)
	}
	wantArchived := []string{"session " + oldRevoked.ID + " conformance", "session " + oldExpired.ID + " ",
		"request " + oldReq.ID}
	slices.Sort(archived)
	slices.Sort(wantArchived)
	if !slices.Equal(archived, wantArchived) {
		t.Errorf("archived %q, want %q (each whole, before its delete)", archived, wantArchived)
	}

	for _, id := range []string{oldRevoked.ID, oldExpired.ID} {
		_, err := e.store.GetSession(ctx, id)
		expectErr(t, "GetSession of a deleted retired session", err, ports.ErrNotFound)
	}
	for _, kept := range []ports.Session{leaseRuns, recent, active} {
		e.get(t, kept.ID)
	}
	_, err = e.backend.Approvals.GetRequest(ctx, oldReq.ID)
	expectErr(t, "GetRequest of a deleted retired request", err, ports.ErrNotFound)
	if _, err := e.backend.Approvals.GetRequest(ctx, approved.ID); err != nil {
		t.Errorf("GetRequest of an approved request: %v (it is live until stored expired)", err)
	}
	if _, err := e.backend.BreakGlass.GetBreakGlass(ctx, oldEvent.ID); err != nil {
		t.Errorf("GetBreakGlass of an event ended after its own cutoff: %v", err)
	}
	if _, err := e.backend.BreakGlass.GetBreakGlass(ctx, liveEvent.ID); err != nil {
		t.Errorf("GetBreakGlass of a live event: %v", err)
	}

	// The indexes went with the records.
	all := listAllIDs(t, e.store, byUser, e.ns+"-user")
	slices.Sort(all)
	wantLeft := []string{leaseRuns.ID, recent.ID, active.ID}
	slices.Sort(wantLeft)
	if !slices.Equal(all, wantLeft) {
		t.Errorf("ListSessionsByUser after the sweep = %v, want %v", all, wantLeft)
	}

	again, err := sweeper.DeleteRetired(ctx, ports.CutoffsAt(cutoff), nil)
	if err != nil || again != (ports.RetiredCounts{BreakGlass: 1}) {
		t.Errorf("a sweep with the break-glass cutoff moved up: %+v, %v; want the old event deleted, nothing else", again, err)
	}
	_, err = e.backend.BreakGlass.GetBreakGlass(ctx, oldEvent.ID)
	expectErr(t, "GetBreakGlass of a deleted retired event", err, ports.ErrNotFound)

	// A failed archive keeps its record: at a cutoff of now, the session
	// revoked a day ago is retired.
	broken := errors.New("archive full")
	_, err = sweeper.DeleteRetired(ctx, ports.CutoffsAt(now), func(ports.RetiredRecord) error { return broken })
	if !errors.Is(err, broken) {
		t.Errorf("DeleteRetired with a failing archive: %v, want it to wrap the archive's error", err)
	}
	e.get(t, recent.ID)
}
