package conformance

import (
	"slices"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

func (s suite) testExpiry(t *testing.T) {
	t.Run("ByInjectedClock", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		start := e.clock.Now()
		lease := func(d time.Duration) ports.Session {
			ses := e.newSession()
			ses.ExpiresAt = start.Add(d)
			return ses
		}
		lapsing := e.create(t, lease(60*time.Second))
		boundary := e.create(t, lease(61*time.Second)) // lapses exactly at the new now
		future := e.create(t, lease(time.Hour))
		noLease := e.newSession()
		noLease.ExpiresAt = time.Time{}
		noLease = e.create(t, noLease)
		rev, err := e.store.UpdateSession(t.Context(), revoked(e.create(t, lease(30*time.Second)), e.ns+"-admin", start))
		if err != nil {
			t.Fatalf("revoke: %v", err)
		}

		expectSession(t, "GetSession before the lease runs out", lapsing, e.get(t, lapsing.ID))

		e.clock.Advance(61 * time.Second)
		now := e.clock.Now()
		lapsedView := func(ses ports.Session) ports.Session { return withStatus(ses, ports.SessionExpired) }
		for _, c := range []struct {
			what string
			want ports.Session
		}{
			{"lapsed 1s ago", lapsedView(lapsing)},
			{"lapsed exactly now", lapsedView(boundary)},
			{"lease in the future", future},
			{"no lease", noLease},
			{"revoked, lease run out", rev},
		} {
			expectSession(t, "GetSession of a session "+c.what+" (read by the injected clock, Version unchanged)", c.want, e.get(t, c.want.ID))
		}

		active := listAllIDs(t, e.store, byStatus, string(ports.SessionActive))
		expectSameIDs(t, "ListSessionsByStatus(active) after the lease ran out", active, future.ID, noLease.ID)
		expired := listAllIDs(t, e.store, byStatus, string(ports.SessionExpired))
		expectSameIDs(t, "ListSessionsByStatus(expired) after the lease ran out", expired, lapsing.ID, boundary.ID)
		page, err := e.store.ListSessionsByUser(t.Context(), lapsing.User, ports.Page{Limit: 10})
		if err != nil {
			t.Fatalf("ListSessionsByUser: %v", err)
		}
		for _, got := range page.Sessions {
			if got.ID == lapsing.ID && got.Status != ports.SessionExpired {
				t.Errorf("ListSessionsByUser shows a lapsed session as %q, want expired", got.Status)
			}
		}

		// The sweep judges by its argument, not the store's clock.
		n, err := e.store.ExpireLapsedSessions(t.Context(), start)
		if err != nil || n != 0 {
			t.Errorf("ExpireLapsedSessions(a now before every lease ends) = %d, %v; want 0, nil", n, err)
		}

		n, err = e.store.ExpireLapsedSessions(t.Context(), now)
		if err != nil {
			t.Fatalf("ExpireLapsedSessions: %v", err)
		}
		if n != 2 {
			t.Errorf("ExpireLapsedSessions = %d, want 2 (this store holds exactly two lapsed active sessions)", n)
		}
		for _, ses := range []ports.Session{lapsing, boundary} {
			got := e.get(t, ses.ID)
			if got.Status != ports.SessionExpired || got.Version != ses.Version+1 {
				t.Errorf("after ExpireLapsedSessions: status %q version %d, want expired version %d", got.Status, got.Version, ses.Version+1)
			}
		}
		for _, ses := range []ports.Session{future, noLease, rev} {
			expectSession(t, "a session ExpireLapsedSessions must not change", ses, e.get(t, ses.ID))
		}

		n, err = e.store.ExpireLapsedSessions(t.Context(), now)
		if err != nil || n != 0 {
			t.Errorf("second ExpireLapsedSessions = %d, %v; want 0, nil", n, err)
		}
		if got := e.get(t, lapsing.ID); got.Version != lapsing.Version+1 {
			t.Errorf("second ExpireLapsedSessions rewrote an expired session: version %d, want %d", got.Version, lapsing.Version+1)
		}
	})
}

// expectSameIDs fails t unless got holds exactly want, in any order.
func expectSameIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
