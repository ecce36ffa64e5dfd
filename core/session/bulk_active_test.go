package session

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/ports"
)

// listedStore counts the sessions every listing hands back, keeping the
// memory store's methods (ActiveSessionLister among them).
type listedStore struct {
	*memory.Store
	listed atomic.Int64
}

func (l *listedStore) count(p ports.SessionPage, err error) (ports.SessionPage, error) {
	l.listed.Add(int64(len(p.Sessions)))
	return p, err
}

func (l *listedStore) ListSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	return l.count(l.Store.ListSessionsByUser(ctx, user, p))
}

func (l *listedStore) ListSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	return l.count(l.Store.ListSessionsByProfile(ctx, profile, p))
}

func (l *listedStore) ListActiveSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	return l.count(l.Store.ListActiveSessionsByUser(ctx, user, p))
}

func (l *listedStore) ListActiveSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	return l.count(l.Store.ListActiveSessionsByProfile(ctx, profile, p))
}

// A bulk revoke reads the selection's active sessions, not its history:
// 3 live sessions among 1,500 ended ones cost 3 records listed.
func TestBulkRevokeListsNoEndedSessions(t *testing.T) {
	t.Parallel()
	for _, sel := range []BulkRevoke{{User: "victim"}, {Profile: "prod"}} {
		mem, clock := newStore(t)
		for i := range 1500 {
			at := t0.Add(-time.Duration(i+1) * time.Minute)
			s := ports.Session{
				ID: fmt.Sprintf("e%031x", i), User: "victim", Profile: "prod", ServerInstanceID: "old",
				Status: ports.SessionRevoked, StartedAt: at, CreatedAt: at, UpdatedAt: at, RevokedAt: at,
			}
			if _, err := mem.CreateSession(context.Background(), s); err != nil {
				t.Fatal(err)
			}
		}
		live := seedSessions(t, mem, "victim", "prod", 3)
		store := &listedStore{Store: mem}
		sel.By, sel.Reason = "sec", "incident"
		res, err := sel.Run(context.Background(), store, clock)
		if err != nil || len(res.Failed) > 0 || len(res.Revoked) != len(live) {
			t.Fatalf("%s: Run: %v, failed %v, revoked %d; want %d", sel.What(), err, res.Failed, len(res.Revoked), len(live))
		}
		if n := store.listed.Load(); n != int64(len(live)) {
			t.Fatalf("%s: the listings handed back %d sessions for %d active: the ended history was walked", sel.What(), n, len(live))
		}
	}
}
