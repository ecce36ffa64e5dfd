package conformance

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

func (s suite) testCreate(t *testing.T) {
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		// Sub-microsecond digits and a non-UTC zone: the store must keep the
		// instant to the microsecond and hand it back in UTC.
		zone := time.FixedZone("UTC+05:30", 5*3600+1800)
		skew := func(t time.Time) time.Time { return t.Add(987 * time.Nanosecond).In(zone) }
		cases := []struct {
			name   string
			mutate func(*ports.Session)
		}{
			{"active, every field set", func(s *ports.Session) {
				s.StartedAt, s.LastAccessAt, s.ExpiresAt = skew(s.StartedAt), skew(s.LastAccessAt), skew(s.ExpiresAt)
				s.CreatedAt, s.UpdatedAt = skew(s.CreatedAt), skew(s.UpdatedAt)
			}},
			{"revoked, revoke fields set", func(s *ports.Session) {
				*s = revoked(*s, e.ns+"-admin", skew(e.clock.Now()))
			}},
			{"stored expired", func(s *ports.Session) { s.Status = ports.SessionExpired }},
			{"no lease, optional fields empty", func(s *ports.Session) {
				s.ExpiresAt, s.LastAccessAt = time.Time{}, time.Time{}
				s.IdentitySource, s.SourceIdentity, s.RequestCount = "", "", 0
				s.RoleARNs, s.AssumedRoleIDs = nil, nil
				s.UserARN = "" // solo mode: no broker checked an ARN
			}},
			// Beyond 2^53: a backend that passes numbers through float64 (JSON
			// in Lua, for one) loses the last digit.
			{"request count beyond float precision", func(s *ports.Session) { s.RequestCount = 1<<53 + 1 }},
			// The server's --revocation-poll: not recorded (older writers), and at its cap.
			{"revocation poll not recorded", func(s *ports.Session) { s.RevocationPoll = 0 }},
			{"revocation poll at its cap", func(s *ports.Session) { s.RevocationPoll = time.Second }},
			// Separators and non-ASCII in the indexed fields: keys built by
			// string concatenation must not break.
			{"separators and unicode in indexed fields", func(s *ports.Session) {
				s.User += ":ü/ser#1"
				s.Profile += "/prod:eu-west-1 é"
				s.ServerInstanceID += "|inst\\ä"
				s.IdentitySource = "os"
			}},
		}
		for _, tc := range cases {
			in := e.newSession()
			tc.mutate(&in)
			in.Version = 7 // the store owns Version: create writes 1 whatever it is given
			created, err := e.store.CreateSession(t.Context(), in)
			if err != nil {
				t.Errorf("%s: CreateSession: %v", tc.name, err)
				continue
			}
			want := withVersion(in, 1)
			expectSession(t, tc.name+": CreateSession result", want, created)
			expectSession(t, tc.name+": GetSession", want, e.get(t, in.ID))
		}
	})

	t.Run("DuplicateID", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		first := e.create(t, e.newSession())
		second := e.newSession()
		second.ID = first.ID
		second.User += "-intruder"
		_, err := e.store.CreateSession(t.Context(), second)
		expectErr(t, "second CreateSession with the same id", err, ports.ErrAlreadyExists)
		expectSession(t, "GetSession after the duplicate", first, e.get(t, first.ID))
	})

	t.Run("InvalidArgument", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		cases := []struct {
			name   string
			mutate func(*ports.Session)
		}{
			{"empty id", func(s *ports.Session) { s.ID = "" }},
			{"empty status", func(s *ports.Session) { s.Status = "" }},
			{"unknown status", func(s *ports.Session) { s.Status = "paused" }},
			{"status in another case", func(s *ports.Session) { s.Status = "Active" }},
		}
		for _, tc := range cases {
			in := e.newSession()
			tc.mutate(&in)
			_, err := e.store.CreateSession(t.Context(), in)
			expectErr(t, tc.name, err, ports.ErrInvalidArgument)
			if in.ID == "" {
				continue
			}
			_, err = e.store.GetSession(t.Context(), in.ID)
			expectErr(t, tc.name+": GetSession after the rejected create", err, ports.ErrNotFound)
		}
	})
}

func (s suite) testGet(t *testing.T) {
	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		e.create(t, e.newSession()) // a store that is not empty
		id := newSessionID()
		got, err := e.store.GetSession(t.Context(), id)
		if err == nil {
			t.Fatalf("GetSession(never created): nil error and %+v; want ErrNotFound, never a zero session", got)
		}
		expectErr(t, "GetSession(never created)", err, ports.ErrNotFound)
	})
}

func (s suite) testUpdate(t *testing.T) {
	t.Run("Replaces", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		cur := e.create(t, e.newSession())
		// Five heartbeats, each changing every mutable field.
		for i := range 5 {
			e.clock.Advance(10 * time.Second)
			now := e.clock.Now().Add(time.Duration(i+1) * 111 * time.Nanosecond)
			next := cur
			next.LastAccessAt = now
			next.ExpiresAt = now.Add(time.Hour)
			next.RequestCount += int64(i) + 10
			next.SourceIdentity = cur.SourceIdentity + "+"
			next.RoleARNs = append(slices.Clone(cur.RoleARNs), fmt.Sprintf("arn:aws:iam::111122223333:role/R%d", i))
			next.AssumedRoleIDs = append(slices.Clone(cur.AssumedRoleIDs), fmt.Sprintf("AROAEXAMPLEROLEID000%d:s", i))
			next.IdentitySource = map[bool]string{true: "os", false: "sts"}[i%2 == 0]
			next.UpdatedAt = now
			next.RevocationPoll = time.Duration(i+1) * 100 * time.Millisecond
			got, err := e.store.UpdateSession(t.Context(), next)
			if err != nil {
				t.Fatalf("UpdateSession #%d at version %d: %v", i+1, cur.Version, err)
			}
			want := withVersion(next, cur.Version+1)
			expectSession(t, "UpdateSession result", want, got)
			expectSession(t, "GetSession after UpdateSession", want, e.get(t, cur.ID))
			cur = got
		}
		if cur.Version != 6 {
			t.Errorf("Version after create and 5 updates = %d, want 6", cur.Version)
		}
	})

	t.Run("VersionMismatch", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		v1 := e.create(t, e.newSession())
		v2 := v1
		v2.RequestCount++
		stored, err := e.store.UpdateSession(t.Context(), v2)
		if err != nil {
			t.Fatalf("UpdateSession at version 1: %v", err)
		}
		for _, version := range []int64{0, 1, 3, 99, -1} {
			stale := stored
			stale.Version = version
			stale.RequestCount = 1000
			stale.SourceIdentity = "stale-writer"
			_, err := e.store.UpdateSession(t.Context(), stale)
			expectErr(t, "UpdateSession with version "+strconv.FormatInt(version, 10)+" against stored 2", err, ports.ErrConflict)
		}
		expectSession(t, "GetSession after the rejected updates", stored, e.get(t, v1.ID))
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		ghost := withVersion(e.newSession(), 1)
		_, err := e.store.UpdateSession(t.Context(), ghost)
		expectErr(t, "UpdateSession(never created)", err, ports.ErrNotFound)
		_, err = e.store.GetSession(t.Context(), ghost.ID)
		expectErr(t, "GetSession after UpdateSession(never created)", err, ports.ErrNotFound)
	})
}

func (s suite) testTouch(t *testing.T) {
	t.Run("CountsAndMovesForwardOnly", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		created := e.create(t, e.newSession())

		at := e.clock.Now().Add(5 * time.Second)
		got, err := e.store.TouchSession(t.Context(), created.ID, at, 1)
		if err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		if !got.UpdatedAt.After(created.UpdatedAt) {
			t.Errorf("UpdatedAt after a touch = %s, want after %s", got.UpdatedAt, created.UpdatedAt)
		}
		want := created
		want.RequestCount, want.LastAccessAt, want.Version, want.UpdatedAt = created.RequestCount+1, at, 2, got.UpdatedAt
		expectSession(t, "TouchSession result", want, got)
		expectSession(t, "GetSession after TouchSession", want, e.get(t, created.ID))

		// A late request reported out of order still counts but never moves
		// LastAccessAt back.
		older := at.Add(-30 * time.Second)
		prev := got
		got, err = e.store.TouchSession(t.Context(), created.ID, older, 5)
		if err != nil {
			t.Fatalf("TouchSession with an older time: %v", err)
		}
		if got.UpdatedAt.Before(prev.UpdatedAt) {
			t.Errorf("UpdatedAt moved back: %s, was %s", got.UpdatedAt, prev.UpdatedAt)
		}
		want.RequestCount, want.Version, want.UpdatedAt = prev.RequestCount+5, 3, got.UpdatedAt
		expectSession(t, "TouchSession(older time) result", want, got)
		expectSession(t, "GetSession after TouchSession(older time)", want, e.get(t, created.ID))
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		id := newSessionID()
		_, err := e.store.TouchSession(t.Context(), id, e.clock.Now(), 1)
		expectErr(t, "TouchSession(never created)", err, ports.ErrNotFound)
		// A touch must not create the record as a side effect.
		_, err = e.store.GetSession(t.Context(), id)
		expectErr(t, "GetSession after TouchSession(never created)", err, ports.ErrNotFound)
	})

	t.Run("RevokedStaysRevoked", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		created := e.create(t, e.newSession())
		rev, err := e.store.UpdateSession(t.Context(), revoked(created, e.ns+"-admin", e.clock.Now()))
		if err != nil {
			t.Fatalf("revoke: %v", err)
		}
		e.clock.Advance(time.Second)
		at := e.clock.Now()
		got, err := e.store.TouchSession(t.Context(), created.ID, at, 2)
		if err != nil {
			t.Fatalf("TouchSession on a revoked session: %v", err)
		}
		want := rev
		want.RequestCount, want.LastAccessAt, want.Version, want.UpdatedAt = rev.RequestCount+2, at, rev.Version+1, got.UpdatedAt
		expectSession(t, "TouchSession(revoked) result", want, got)
		expectSession(t, "GetSession after TouchSession(revoked)", want, e.get(t, created.ID))
	})
}

func (s suite) testRevoke(t *testing.T) {
	t.Run("StaleWriterCannotResurrect", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		created := e.create(t, e.newSession())
		stale := e.get(t, created.ID) // a heartbeat writer read version 1...
		rev, err := e.store.UpdateSession(t.Context(), revoked(stale, e.ns+"-admin", e.clock.Now()))
		if err != nil {
			t.Fatalf("revoke: %v", err)
		}
		// ...and writes its lease extension after the revoke landed.
		stale.ExpiresAt = stale.ExpiresAt.Add(time.Hour)
		stale.RequestCount++
		_, err = e.store.UpdateSession(t.Context(), stale)
		expectErr(t, "UpdateSession from a writer that read before the revoke", err, ports.ErrConflict)
		expectSession(t, "GetSession after the stale write", rev, e.get(t, created.ID))
	})

	t.Run("MovesBetweenStatusListings", func(t *testing.T) {
		t.Parallel()
		e := s.open(t)
		created := e.create(t, e.newSession())
		rev, err := e.store.UpdateSession(t.Context(), revoked(created, e.ns+"-admin", e.clock.Now()))
		if err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if ids := listAllIDs(t, e.store, byStatus, string(ports.SessionActive)); len(ids) != 0 {
			t.Errorf("ListSessionsByStatus(active) after the revoke = %v, want none", ids)
		}
		page, err := e.store.ListSessionsByStatus(t.Context(), ports.SessionRevoked, ports.Page{Limit: 10})
		if err != nil {
			t.Fatalf("ListSessionsByStatus(revoked): %v", err)
		}
		if len(page.Sessions) != 1 {
			t.Fatalf("ListSessionsByStatus(revoked) = %d sessions, want 1", len(page.Sessions))
		}
		expectSession(t, "ListSessionsByStatus(revoked)", rev, page.Sessions[0])
	})
}
