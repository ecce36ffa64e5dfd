package conformance

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// listing is one of the four listings, described so one set of tests covers all.
type listing struct {
	name string
	list func(ctx context.Context, store ports.SessionStore, key string, p ports.Page) (ports.SessionPage, error)
	// key is the value this test lists by.
	key func(e env) string
	// join makes s a member of the listing for key.
	join func(e env, s *ports.Session, key string)
	// strangers are variants of a member that must never be listed under key.
	strangers func(e env, member ports.Session, key string) []ports.Session
}

var (
	byUser = listing{
		name: "ByUser",
		list: func(ctx context.Context, st ports.SessionStore, key string, p ports.Page) (ports.SessionPage, error) {
			return st.ListSessionsByUser(ctx, key, p)
		},
		key:  func(e env) string { return e.ns + "-user" },
		join: func(_ env, s *ports.Session, key string) { s.User = key },
		strangers: func(_ env, m ports.Session, key string) []ports.Session {
			return fieldStrangers(m, key, func(s *ports.Session, v string) { s.User = v })
		},
	}
	byProfile = listing{
		name: "ByProfile",
		list: func(ctx context.Context, st ports.SessionStore, key string, p ports.Page) (ports.SessionPage, error) {
			return st.ListSessionsByProfile(ctx, key, p)
		},
		key:  func(e env) string { return e.ns + "-profile" },
		join: func(_ env, s *ports.Session, key string) { s.Profile = key },
		strangers: func(_ env, m ports.Session, key string) []ports.Session {
			return fieldStrangers(m, key, func(s *ports.Session, v string) { s.Profile = v })
		},
	}
	byServerInstance = listing{
		name: "ByServerInstance",
		list: func(ctx context.Context, st ports.SessionStore, key string, p ports.Page) (ports.SessionPage, error) {
			return st.ListSessionsByServerInstance(ctx, key, p)
		},
		key:  func(e env) string { return e.ns + "-instance" },
		join: func(_ env, s *ports.Session, key string) { s.ServerInstanceID = key },
		strangers: func(_ env, m ports.Session, key string) []ports.Session {
			return fieldStrangers(m, key, func(s *ports.Session, v string) { s.ServerInstanceID = v })
		},
	}
	// byStatus lists active sessions; its strangers are the other stored
	// states plus an active session whose lease has run out, which must be
	// listed as expired, not active.
	byStatus = listing{
		name: "ByStatus",
		list: func(ctx context.Context, st ports.SessionStore, key string, p ports.Page) (ports.SessionPage, error) {
			return st.ListSessionsByStatus(ctx, ports.SessionStatus(key), p)
		},
		key: func(env) string { return string(ports.SessionActive) },
		join: func(e env, s *ports.Session, _ string) {
			s.Status = ports.SessionActive
			s.ExpiresAt = e.clock.Now().Add(time.Hour)
		},
		strangers: func(e env, m ports.Session, _ string) []ports.Session {
			rev := revoked(m, e.ns+"-admin", e.clock.Now())
			exp := withStatus(m, ports.SessionExpired)
			lapsed := m
			lapsed.ExpiresAt = e.clock.Now() // lapsed exactly now: at or before counts
			return []ports.Session{rev, exp, lapsed}
		},
	}
	listings = []listing{byUser, byProfile, byStatus, byServerInstance}
)

// fieldStrangers returns m under values close to key that naive key
// building confuses with it: an extension, a prefix, another case.
func fieldStrangers(m ports.Session, key string, set func(*ports.Session, string)) []ports.Session {
	var out []ports.Session
	for _, v := range []string{key + "-other", key[:len(key)-1], strings.ToUpper(key)} {
		s := m
		set(&s, v)
		out = append(out, s)
	}
	return out
}

func (s suite) testListing(t *testing.T) {
	for _, l := range listings {
		t.Run(l.name, func(t *testing.T) {
			t.Run("OrderAndPaging", func(t *testing.T) {
				t.Parallel()
				s.listingOrderAndPaging(t, l)
			})
			t.Run("BadPage", func(t *testing.T) {
				t.Parallel()
				s.listingBadPage(t, l)
			})
		})
	}
}

// listingOrderAndPaging stores 7 members (some sharing CreatedAt, so the ID
// breaks the tie) among strangers, in shuffled order, then pages through them.
func (s suite) listingOrderAndPaging(t *testing.T, l listing) {
	e := s.open(t)
	key := l.key(e)

	empty, err := l.list(t.Context(), e.store, key, ports.Page{Limit: 10})
	if err != nil {
		t.Fatalf("%s on an empty store: %v", l.name, err)
	}
	if len(empty.Sessions) != 0 || empty.Next != "" {
		t.Fatalf("%s on an empty store = %d sessions, Next %q; want none and empty Next", l.name, len(empty.Sessions), empty.Next)
	}

	base := e.clock.Now().Add(-time.Hour)
	var members, all []ports.Session
	for _, offset := range []int{0, 1, 1, 2, 3, 3, 3} {
		m := e.newSession()
		l.join(e, &m, key)
		m.CreatedAt = base.Add(time.Duration(offset) * time.Second)
		members = append(members, m)
		all = append(all, m)
		for _, st := range l.strangers(e, m, key) {
			st.ID = newSessionID()
			st.CreatedAt = m.CreatedAt.Add(500 * time.Millisecond)
			all = append(all, st)
		}
	}
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	for _, m := range all {
		e.create(t, m)
	}
	slices.SortFunc(members, func(a, b ports.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	var want []string
	for _, m := range members {
		want = append(want, m.ID)
	}

	for _, limit := range []int{1, 3, 6, 7, 8, ports.MaxPageLimit} {
		var got []string
		cursor := ""
		for page := 1; ; page++ {
			res, err := l.list(t.Context(), e.store, key, ports.Page{Limit: limit, Cursor: cursor})
			if err != nil {
				t.Fatalf("%s limit %d page %d: %v", l.name, limit, page, err)
			}
			remaining := len(want) - len(got)
			if wantLen := min(limit, remaining); len(res.Sessions) != wantLen {
				t.Fatalf("%s limit %d page %d: %d sessions, want %d", l.name, limit, page, len(res.Sessions), wantLen)
			}
			for _, listed := range res.Sessions {
				expectSession(t, l.name+" listed session", e.get(t, listed.ID), listed)
				got = append(got, listed.ID)
			}
			last := len(got) == len(want)
			if last != (res.Next == "") {
				t.Fatalf("%s limit %d page %d: Next %q after %d of %d sessions; want empty exactly on the last page",
					l.name, limit, page, res.Next, len(got), len(want))
			}
			if last {
				break
			}
			if page == 1 {
				// A cursor is a value: asking twice gives the same page.
				a, errA := l.list(t.Context(), e.store, key, ports.Page{Limit: limit, Cursor: res.Next})
				b, errB := l.list(t.Context(), e.store, key, ports.Page{Limit: limit, Cursor: res.Next})
				if errA != nil || errB != nil || !slices.Equal(sessionIDs(a.Sessions), sessionIDs(b.Sessions)) {
					t.Errorf("%s limit %d: the same cursor twice gave %v (%v) and %v (%v)",
						l.name, limit, sessionIDs(a.Sessions), errA, sessionIDs(b.Sessions), errB)
				}
			}
			cursor = res.Next
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s limit %d listed\n\t%v\nwant (newest CreatedAt first, then ID descending)\n\t%v", l.name, limit, got, want)
		}
	}
}

func (s suite) listingBadPage(t *testing.T, l listing) {
	e := s.open(t)
	key := l.key(e)
	m := e.newSession()
	l.join(e, &m, key)
	e.create(t, m)

	for _, limit := range []int{0, -1, ports.MaxPageLimit + 1} {
		_, err := l.list(t.Context(), e.store, key, ports.Page{Limit: limit})
		expectErr(t, l.name+" with limit "+strconv.Itoa(limit), err, ports.ErrInvalidArgument)
	}
	for _, cursor := range []string{"not a cursor", "!!!", "\x00\xff\xfe"} {
		_, err := l.list(t.Context(), e.store, key, ports.Page{Limit: 10, Cursor: cursor})
		expectErr(t, l.name+" with cursor "+strings.ToValidUTF8(cursor, "?"), err, ports.ErrInvalidArgument)
	}
	res, err := l.list(t.Context(), e.store, key, ports.Page{Limit: ports.MaxPageLimit})
	if err != nil || len(res.Sessions) != 1 {
		t.Errorf("%s with limit MaxPageLimit: %d sessions, %v; want 1, nil", l.name, len(res.Sessions), err)
	}
}

// listAllIDs pages through a whole listing with limit 100.
func listAllIDs(t *testing.T, store ports.SessionStore, l listing, key string) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for range 1000 {
		res, err := l.list(t.Context(), store, key, ports.Page{Limit: 100, Cursor: cursor})
		if err != nil {
			t.Fatalf("%s(%s): %v", l.name, key, err)
		}
		ids = append(ids, sessionIDs(res.Sessions)...)
		if res.Next == "" {
			return ids
		}
		cursor = res.Next
	}
	t.Fatalf("%s(%s): more than 1000 pages; is Next ever empty?", l.name, key)
	return nil
}

func sessionIDs(ss []ports.Session) []string {
	ids := make([]string, 0, len(ss))
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	return ids
}
