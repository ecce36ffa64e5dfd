package conformance

import (
	"slices"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// testActiveListing checks ports.ActiveSessionLister: a user's or a
// profile's active sessions, and only those, stay listed right as sessions
// are revoked, lapse and are expired by the sweep, so whatever index the
// backend answers from is kept in step with the records.
func (s suite) testActiveListing(t *testing.T) {
	t.Parallel()
	e := s.open(t)
	active, ok := e.store.(ports.ActiveSessionLister)
	s.requireStore(t, "Store as ports.ActiveSessionLister", ok)
	ctx := t.Context()

	// Five sessions, newest last, all active at first; one revoked at
	// birth and one of another user and profile never listed.
	var ids []string
	for i := range 5 {
		ses := e.newSession()
		ses.CreatedAt = ses.CreatedAt.Add(time.Duration(i) * time.Second)
		if i == 1 {
			ses.ExpiresAt = e.clock.Now().Add(time.Minute) // lapses first
		}
		ids = append(ids, e.create(t, ses).ID)
	}
	born := revoked(e.newSession(), "conformance", e.clock.Now())
	e.create(t, born)
	stranger := e.newSession()
	stranger.User, stranger.Profile = e.ns+"-other", e.ns+"-other"
	e.create(t, stranger)

	user, profile := e.ns+"-user", e.ns+"-profile"
	expect := func(when string, want ...string) {
		t.Helper()
		for _, by := range []struct {
			name string
			list func(p ports.Page) (ports.SessionPage, error)
		}{
			{"ByUser", func(p ports.Page) (ports.SessionPage, error) { return active.ListActiveSessionsByUser(ctx, user, p) }},
			{"ByProfile", func(p ports.Page) (ports.SessionPage, error) {
				return active.ListActiveSessionsByProfile(ctx, profile, p)
			}},
		} {
			// Pages of 2, so paging past filtered-out records is checked too.
			var got []string
			page := ports.Page{Limit: 2}
			for range 10 {
				p, err := by.list(page)
				if err != nil {
					t.Fatalf("%s: ListActiveSessions%s: %v", when, by.name, err)
				}
				for _, ses := range p.Sessions {
					if ses.Status != ports.SessionActive {
						t.Fatalf("%s: ListActiveSessions%s listed %s, which reads %s", when, by.name, ses.ID, ses.Status)
					}
				}
				got = append(got, sessionIDs(p.Sessions)...)
				if p.Next == "" {
					break
				}
				page.Cursor = p.Next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s: ListActiveSessions%s = %v, want %v (newest first)", when, by.name, got, want)
			}
		}
	}
	newestFirst := func(idx ...int) []string {
		out := make([]string, 0, len(idx))
		for _, i := range slices.Backward(idx) {
			out = append(out, ids[i])
		}
		return out
	}

	expect("at first", newestFirst(0, 1, 2, 3, 4)...)

	if _, err := revokeWithRetry(ctx, e.store, ids[3], "conformance", e.clock.Now()); err != nil {
		t.Fatalf("revoke %s: %v", ids[3], err)
	}
	expect("after a revoke", newestFirst(0, 1, 2, 4)...)

	e.clock.Advance(2 * time.Minute) // ids[1]'s lease runs out; not yet swept
	expect("after a lease lapsed", newestFirst(0, 2, 4)...)

	if _, err := e.store.ExpireLapsedSessions(ctx, e.clock.Now()); err != nil {
		t.Fatalf("ExpireLapsedSessions: %v", err)
	}
	expect("after the sweep", newestFirst(0, 2, 4)...)

	for _, id := range []string{ids[0], ids[2], ids[4]} {
		if _, err := revokeWithRetry(ctx, e.store, id, "conformance", e.clock.Now()); err != nil {
			t.Fatalf("revoke %s: %v", id, err)
		}
	}
	expect("after every revoke")

	_, err := active.ListActiveSessionsByUser(ctx, "", ports.Page{Limit: 10})
	expectErr(t, "ListActiveSessionsByUser with an empty user", err, ports.ErrInvalidArgument)
	_, err = active.ListActiveSessionsByProfile(ctx, profile, ports.Page{Limit: 0})
	expectErr(t, "ListActiveSessionsByProfile with limit 0", err, ports.ErrInvalidArgument)
}
