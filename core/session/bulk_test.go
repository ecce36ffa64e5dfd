package session

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// barrierWait bounds how long a test waits for goroutines to meet; reaching
// it means the work was not concurrent.
const barrierWait = 10 * time.Second

// seedSessions creates n active sessions of user on profile, the i-th
// created i seconds after t0 (so the listing has a strict order), and
// returns their ids oldest first.
func seedSessions(t *testing.T, store ports.SessionStore, user, profile string, n int) []string {
	t.Helper()
	h := fnv.New64a()
	_, _ = h.Write([]byte(user + "/" + profile))
	group := h.Sum64()
	ids := make([]string, 0, n)
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Second)
		s := ports.Session{
			ID: fmt.Sprintf("%016x%016x", group, i), User: user, Profile: profile,
			ServerInstanceID: "inst", Status: ports.SessionActive, StartedAt: at, CreatedAt: at, UpdatedAt: at,
			ExpiresAt: t0.Add(24 * time.Hour),
		}
		if _, err := store.CreateSession(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	return ids
}

// statusOf reads one session's stored status.
func statusOf(t *testing.T, store ports.SessionStore, id string) ports.Session {
	t.Helper()
	s, err := store.GetSession(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBulkRevokePagesThroughEverySession(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	// More than two pages; the old command stopped at the first 1,000.
	victim := seedSessions(t, store, "victim", "prod", 2*ports.MaxPageLimit+17)
	bystander := seedSessions(t, store, "bystanderx", "prod", 3)
	res, err := BulkRevoke{User: "victim", By: "sec", Reason: "incident 7"}.Run(context.Background(), store, clock)
	if err != nil || len(res.Failed) > 0 {
		t.Fatalf("Run: %v, failed %v", err, res.Failed)
	}
	if len(res.Revoked) != len(victim) {
		t.Fatalf("revoked %d sessions, want all %d", len(res.Revoked), len(victim))
	}
	for _, id := range victim {
		if s := statusOf(t, store, id); s.Status != ports.SessionRevoked || s.RevokedBy != "sec" || s.RevokedReason != "incident 7" {
			t.Fatalf("session %s: %s by %q (%q), want revoked by sec for incident 7", id, s.Status, s.RevokedBy, s.RevokedReason)
		}
	}
	for _, id := range bystander {
		if s := statusOf(t, store, id); s.Status != ports.SessionActive {
			t.Fatalf("another user's session %s is %s", id, s.Status)
		}
	}
	for i := 1; i < len(res.Revoked); i++ {
		if ports.SessionPosition(res.Revoked[i-1]).Compare(ports.SessionPosition(res.Revoked[i])) >= 0 {
			t.Fatalf("Revoked is not newest first at %d", i)
		}
	}
}

func TestBulkRevokeByProfileLeavesEndedSessionsAlone(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	ctx := context.Background()
	ids := seedSessions(t, store, "alice", "demo", 5)
	other := seedSessions(t, store, "alice", "prodx", 2)
	earlier, err := UpdateWithRetry(ctx, store, ids[0], func(s ports.Session) (ports.Session, error) {
		return Revoke(s, "first", "earlier", clock.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := BulkRevoke{Profile: "demo", By: "sec", Reason: "rotate"}.Run(ctx, store, clock)
	if err != nil || len(res.Failed) > 0 {
		t.Fatalf("Run: %v, failed %v", err, res.Failed)
	}
	if len(res.Revoked) != 4 {
		t.Fatalf("revoked %d, want the 4 still active", len(res.Revoked))
	}
	if s := statusOf(t, store, ids[0]); s.RevokedBy != "first" || s.Version != earlier.Version {
		t.Fatalf("the earlier revoke was rewritten: %+v", s)
	}
	for _, id := range other {
		if s := statusOf(t, store, id); s.Status != ports.SessionActive {
			t.Fatalf("a session of another profile is %s", s.Status)
		}
	}
}

// arrivingStore creates a new, newest session of the user before every
// listing call, as servers starting during an incident would.
type arrivingStore struct {
	ports.SessionStore
	clock   *ports.FakeClock
	user    string
	arrived atomic.Int64
}

func (a *arrivingStore) ListSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	n := a.arrived.Add(1)
	at := a.clock.Now().Add(time.Duration(n) * time.Hour)
	s := ports.Session{
		ID: fmt.Sprintf("a%031x", n), User: a.user, Profile: "prod", ServerInstanceID: "new",
		Status: ports.SessionActive, StartedAt: at, CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(24 * time.Hour),
	}
	if _, err := a.CreateSession(ctx, s); err != nil {
		return ports.SessionPage{}, err
	}
	return a.SessionStore.ListSessionsByUser(ctx, user, p)
}

func TestBulkRevokeReachesOldSessionsWhileNewOnesArrive(t *testing.T) {
	t.Parallel()
	mem, clock := newStore(t)
	ids := seedSessions(t, mem, "victim", "prod", ports.MaxPageLimit+500)
	store := &arrivingStore{SessionStore: mem, clock: clock, user: "victim"}
	res, err := BulkRevoke{User: "victim", By: "sec", Reason: "incident"}.Run(context.Background(), store, clock)
	if err != nil || len(res.Failed) > 0 {
		t.Fatalf("Run: %v, failed %v", err, res.Failed)
	}
	for _, id := range []string{ids[0], ids[len(ids)/2], ids[len(ids)-1]} {
		if s := statusOf(t, mem, id); s.Status != ports.SessionRevoked {
			t.Fatalf("session %s, which existed before the revoke started, is %s", id, s.Status)
		}
	}
	for _, id := range ids {
		if s := statusOf(t, mem, id); s.Status != ports.SessionRevoked {
			t.Fatalf("session %s is %s", id, s.Status)
		}
	}
	if store.arrived.Load() > 3 {
		t.Fatalf("%d listing calls for two pages: the listing restarted", store.arrived.Load())
	}
}

// gateStore holds the first n updates until n are in flight at once, and
// records the most ever in flight.
type gateStore struct {
	ports.SessionStore
	n        int
	mu       sync.Mutex
	inFlight int
	most     int
	met      chan struct{}
	timedOut atomic.Bool
}

func (g *gateStore) UpdateSession(ctx context.Context, s ports.Session) (ports.Session, error) {
	g.mu.Lock()
	g.inFlight++
	g.most = max(g.most, g.inFlight)
	if g.inFlight == g.n {
		select {
		case <-g.met:
		default:
			close(g.met)
		}
	}
	g.mu.Unlock()
	select {
	case <-g.met:
	case <-time.After(barrierWait):
		g.timedOut.Store(true)
	}
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	return g.SessionStore.UpdateSession(ctx, s)
}

func TestBulkRevokeRunsWorkersAtOnceAndNoMore(t *testing.T) {
	t.Parallel()
	mem, clock := newStore(t)
	ids := seedSessions(t, mem, "victim", "prod", 100)
	const workers = 8
	store := &gateStore{SessionStore: mem, n: workers, met: make(chan struct{})}
	res, err := BulkRevoke{User: "victim", By: "sec", Reason: "r", Workers: workers}.Run(context.Background(), store, clock)
	if err != nil || len(res.Failed) > 0 || len(res.Revoked) != len(ids) {
		t.Fatalf("Run: %v, revoked %d of %d, failed %v", err, len(res.Revoked), len(ids), res.Failed)
	}
	if store.timedOut.Load() {
		t.Fatalf("%d revokes were never in flight at once", workers)
	}
	if store.most > workers {
		t.Fatalf("%d revokes in flight, want at most %d", store.most, workers)
	}
}

func TestBulkRevokeConfirmsAllConcurrently(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	const n = 40 // more than BulkWorkers, fewer than BulkConfirmers
	ids := seedSessions(t, store, "victim", "prod", n)
	var (
		mu        sync.Mutex
		confirmed = map[string]int{}
		waiting   = make(chan struct{})
		timedOut  atomic.Bool
	)
	confirm := func(_ context.Context, s ports.Session) {
		mu.Lock()
		confirmed[s.ID]++
		if len(confirmed) == n {
			close(waiting)
		}
		mu.Unlock()
		if s.Status != ports.SessionRevoked {
			t.Errorf("confirming %s in status %s", s.ID, s.Status)
		}
		// Every confirmation waits for all the others: one at a time, this
		// would never end.
		select {
		case <-waiting:
		case <-time.After(barrierWait):
			timedOut.Store(true)
		}
	}
	res, err := BulkRevoke{User: "victim", By: "sec", Reason: "r", Confirm: confirm}.Run(context.Background(), store, clock)
	if err != nil || len(res.Revoked) != n {
		t.Fatalf("Run: %v, revoked %d", err, len(res.Revoked))
	}
	if timedOut.Load() {
		t.Fatal("the confirmations did not run concurrently")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if confirmed[id] != 1 {
			t.Fatalf("session %s confirmed %d times, want once", id, confirmed[id])
		}
	}
}

// failingStore fails the update of one id and the listing after one page.
type failingStore struct {
	ports.SessionStore
	failID    string
	failAfter int // listing calls that succeed; 0 means all
	lists     atomic.Int64
}

var errStoreDown = fmt.Errorf("redis down: %w", ports.ErrUnavailable)

func (f *failingStore) UpdateSession(ctx context.Context, s ports.Session) (ports.Session, error) {
	if s.ID == f.failID {
		return ports.Session{}, errStoreDown
	}
	return f.SessionStore.UpdateSession(ctx, s)
}

func (f *failingStore) ListSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	if n := f.lists.Add(1); f.failAfter > 0 && n > int64(f.failAfter) {
		return ports.SessionPage{}, errStoreDown
	}
	return f.SessionStore.ListSessionsByProfile(ctx, profile, p)
}

func TestBulkRevokeReportsEachFailureAndGoesOn(t *testing.T) {
	t.Parallel()
	mem, clock := newStore(t)
	ids := seedSessions(t, mem, "victim", "prod", 10)
	store := &failingStore{SessionStore: mem, failID: ids[3]}
	res, err := BulkRevoke{Profile: "prod", By: "sec", Reason: "r"}.Run(context.Background(), store, clock)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Revoked) != 9 || len(res.Failed) != 1 || !errors.Is(res.Failed[0], ports.ErrUnavailable) {
		t.Fatalf("revoked %d, failed %v; want 9 and one ErrUnavailable", len(res.Revoked), res.Failed)
	}
	if s := statusOf(t, mem, ids[3]); s.Status != ports.SessionActive {
		t.Fatalf("the failed session is %s", s.Status)
	}
}

func TestBulkRevokeListingFailureKeepsWhatWasRevoked(t *testing.T) {
	t.Parallel()
	mem, clock := newStore(t)
	seedSessions(t, mem, "victim", "prod", ports.MaxPageLimit+10)
	store := &failingStore{SessionStore: mem, failAfter: 1}
	res, err := BulkRevoke{Profile: "prod", By: "sec", Reason: "r"}.Run(context.Background(), store, clock)
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("err = %v, want the listing's ErrUnavailable", err)
	}
	if len(res.Revoked) != ports.MaxPageLimit {
		t.Fatalf("revoked %d, want the first page's %d", len(res.Revoked), ports.MaxPageLimit)
	}
}

func TestBulkRevokeRefusesABadSelection(t *testing.T) {
	t.Parallel()
	store, clock := newStore(t)
	ids := seedSessions(t, store, "victim", "prod", 2)
	for _, b := range []BulkRevoke{
		{By: "sec", Reason: "r"},
		{User: "victim", Profile: "prod", By: "sec", Reason: "r"},
		{User: "victim", Reason: "r"},
		{User: "victim", By: "sec", Reason: " "},
	} {
		if _, err := b.Run(context.Background(), store, clock); !errors.Is(err, ports.ErrInvalidArgument) {
			t.Errorf("%+v: err = %v, want ErrInvalidArgument", b, err)
		}
	}
	for _, id := range ids {
		if s := statusOf(t, store, id); s.Status != ports.SessionActive {
			t.Fatalf("a refused bulk revoke changed %s to %s", id, s.Status)
		}
	}
}
