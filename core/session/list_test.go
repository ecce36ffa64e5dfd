package session

import (
	"fmt"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

func TestListPagesMergedStatuses(t *testing.T) {
	store, _ := newStore(t)
	// Seven sessions a second apart; alternately revoked, and bob's last.
	var ids []string
	for i := range 7 {
		s := activeSession()
		s.ID = fmt.Sprintf("%031d%d", 0, i)
		s.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		s.ExpiresAt = t0.Add(time.Hour)
		if i%2 == 1 {
			s.Status, s.RevokedBy, s.RevokedReason, s.RevokedAt = ports.SessionRevoked, "secops", "r", t0
		}
		if i == 6 {
			s.User = "bob"
		}
		if _, err := store.CreateSession(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		ids = append([]string{s.ID}, ids...) // newest first
	}
	var got []string
	page := ports.Page{Limit: 3}
	for n := 0; ; n++ {
		p, err := List(t.Context(), store, Filter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Sessions {
			got = append(got, s.ID)
		}
		if p.Next == "" {
			break
		}
		if n > 5 {
			t.Fatal("the listing does not end")
		}
		page.Cursor = p.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("paged listing = %v, want every session newest first %v", got, ids)
	}
	p, err := List(t.Context(), store, Filter{Status: "revoked", User: "alice", Since: t0.Add(2 * time.Second)}, ports.Page{Limit: 10})
	if err != nil || len(p.Sessions) != 2 || p.Sessions[0].ID != ids[1] || p.Sessions[1].ID != ids[3] || p.Next != "" {
		t.Errorf("alice's revoked sessions since t0+2s = %+v, %v; want the two at 5s and 3s", p.Sessions, err)
	}
	p, _ = List(t.Context(), store, Filter{Keep: func(s ports.Session) bool { return s.User == "bob" }}, ports.Page{Limit: 10})
	if len(p.Sessions) != 1 || p.Sessions[0].ID != ids[0] {
		t.Errorf("Keep bob's = %+v, want bob's one session", p.Sessions)
	}
	for _, bad := range []struct {
		f Filter
		p ports.Page
	}{{Filter{Status: "paused"}, ports.Page{Limit: 1}}, {Filter{}, ports.Page{Limit: 0}}, {Filter{}, ports.Page{Limit: 1, Cursor: "junk"}}} {
		if _, err := List(t.Context(), store, bad.f, bad.p); err == nil {
			t.Errorf("List(%+v, %+v) accepted", bad.f, bad.p)
		}
	}
}
