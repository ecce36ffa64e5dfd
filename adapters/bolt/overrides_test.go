package bolt

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/ports"
)

// farFuture is a creation time whose events outlive any system clock a test sees.
var farFuture = time.Date(2999, time.January, 1, 0, 0, 0, 0, time.UTC)

func activeEvent(id, invoker, profile string, createdAt time.Time) ports.BreakGlassEvent {
	return ports.BreakGlassEvent{
		ID: id, Invoker: invoker, Profile: profile, ReasonCode: "incident",
		Justification: "the primary database refuses connections", Duration: time.Hour,
		Status: ports.BreakGlassActive, CreatedAt: createdAt, UpdatedAt: createdAt, ExpiresAt: createdAt.Add(time.Hour),
	}
}

func pendingRequest(id, requester string, createdAt time.Time) ports.ApprovalRequest {
	return ports.ApprovalRequest{
		ID: id, Requester: requester, Profile: "prod", Justification: "deploy the hotfix",
		Duration: time.Hour, Status: ports.RequestPending,
		CreatedAt: createdAt, UpdatedAt: createdAt, ExpiresAt: createdAt.Add(24 * time.Hour),
	}
}

// Every corrupt form of a request or event is ErrCorrupt naming the id, for
// every operation that reaches it, never a panic or a silent skip.
func TestCorruptOverrideRecords(t *testing.T) {
	forms := []struct {
		name string
		raw  func(kind, id string) string
	}{
		{"not json", func(string, string) string { return `not json at all` }},
		{"truncated", func(kind, id string) string { return `{"v":1,"` + kind + `":{"id":"` + id + `"` }},
		{"unknown envelope version", func(kind, id string) string {
			return `{"v":2,"` + kind + `":{"id":"` + id + `","status":"active","version":1}}`
		}},
		{"a session where this kind belongs", func(_, id string) string {
			return `{"v":1,"session":{"id":"` + id + `","status":"active","version":1}}`
		}},
		{"unknown status", func(kind, id string) string {
			return `{"v":1,"` + kind + `":{"id":"` + id + `","status":"paused","version":1}}`
		}},
		{"foreign id", func(kind, _ string) string { return `{"v":1,"` + kind + `":{"id":"x9","status":"active","version":1}}` }},
		{"version zero", func(kind, id string) string {
			return `{"v":1,"` + kind + `":{"id":"` + id + `","status":"` + validStatus[kind] + `","version":0}}`
		}},
		{"bad time", func(kind, id string) string {
			return `{"v":1,"` + kind + `":{"id":"` + id + `","status":"` + validStatus[kind] + `","version":1,"created_at":"yesterday"}}`
		}},
		{"bad duration", func(kind, id string) string {
			return `{"v":1,"` + kind + `":{"id":"` + id + `","status":"` + validStatus[kind] + `","version":1,"duration":"1h"}}`
		}},
		{"empty", func(string, string) string { return `` }},
	}
	for _, form := range forms {
		t.Run("request/"+form.name, func(t *testing.T) {
			store := openForTest(t, filepath.Join(t.TempDir(), "s.db"), ports.NewFakeClock(testStart))
			created, err := store.CreateRequest(t.Context(), pendingRequest("r1", "carol", testStart))
			if err != nil {
				t.Fatal(err)
			}
			if err := store.putRawForTest(bucketRequests, "r1", []byte(form.raw("request", "r1"))); err != nil {
				t.Fatal(err)
			}
			expectCorruptEverywhere(t, "r1", map[string]func() error{
				"get":    func() error { _, err := store.GetRequest(t.Context(), "r1"); return err },
				"update": func() error { _, err := store.UpdateRequest(t.Context(), created); return err },
				"list by requester": func() error {
					_, err := store.ListRequestsByRequester(t.Context(), "carol", ports.Page{Limit: 5})
					return err
				},
				"list expired": func() error {
					_, err := store.ListRequestsByStatus(t.Context(), ports.RequestExpired, ports.Page{Limit: 5})
					return err
				},
				"expire lapsed": func() error {
					_, err := store.ExpireLapsedRequests(t.Context(), testStart.Add(48*time.Hour))
					return err
				},
			})
		})
		t.Run("breakglass/"+form.name, func(t *testing.T) {
			store := openForTest(t, filepath.Join(t.TempDir(), "s.db"), ports.NewFakeClock(testStart))
			created, err := store.CreateBreakGlass(t.Context(), activeEvent("b1", "carol", "prod", testStart))
			if err != nil {
				t.Fatal(err)
			}
			if err := store.putRawForTest(bucketBreakGlass, "b1", []byte(form.raw("breakglass", "b1"))); err != nil {
				t.Fatal(err)
			}
			expectCorruptEverywhere(t, "b1", map[string]func() error{
				"get":    func() error { _, err := store.GetBreakGlass(t.Context(), "b1"); return err },
				"update": func() error { _, err := store.UpdateBreakGlass(t.Context(), created); return err },
				"list by invoker": func() error {
					_, err := store.ListBreakGlassByInvoker(t.Context(), "carol", ports.Page{Limit: 5})
					return err
				},
				"list expired": func() error {
					_, err := store.ListBreakGlassByStatus(t.Context(), ports.BreakGlassExpired, ports.Page{Limit: 5})
					return err
				},
				"expire lapsed": func() error {
					_, err := store.ExpireLapsedBreakGlass(t.Context(), testStart.Add(48*time.Hour))
					return err
				},
				// The store cannot tell whether the corrupt event is active,
				// so it must not guess that the pair is free.
				"create for the same pair": func() error {
					_, err := store.CreateBreakGlass(t.Context(), activeEvent("b2", "carol", "prod", testStart))
					return err
				},
			})
		})
	}
}

// validStatus is a status each kind accepts, so a form fails for its one flaw.
var validStatus = map[string]string{"request": "pending", "breakglass": "active"}

func expectCorruptEverywhere(t *testing.T, id string, checks map[string]func() error) {
	t.Helper()
	for name, check := range checks {
		err := check()
		if !errors.Is(err, ports.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
			continue
		}
		if !strings.Contains(err.Error(), `"`+id+`"`) {
			t.Errorf("%s: error %q does not name the id", name, err)
		}
	}
}

// A file written before approvals and break-glass existed (only the session
// buckets) gains the new buckets on Open and keeps its sessions.
func TestOpenAddsOverrideBucketsToAnOlderFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	old, err := encodeSession(activeSession("s1", "alice", testStart))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketSessions, bucketUser, bucketProfile, bucketStatus, bucketInstance} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMeta).Put(keySchema, schemaValue); err != nil {
			return err
		}
		return tx.Bucket(bucketSessions).Put([]byte("s1"), []byte(strings.Replace(string(old), `"version":0`, `"version":1`, 1)))
	})
	if closeErr := db.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		t.Fatal(err)
	}

	store := openForTest(t, path, ports.NewFakeClock(testStart))
	if got, err := store.GetSession(t.Context(), "s1"); err != nil || got.User != "alice" {
		t.Fatalf("GetSession from the older file: %+v, %v", got, err)
	}
	if _, err := store.CreateRequest(t.Context(), pendingRequest("r1", "bob", testStart)); err != nil {
		t.Fatalf("CreateRequest in the older file: %v", err)
	}
	if _, err := store.CreateBreakGlass(t.Context(), activeEvent("b1", "bob", "prod", testStart)); err != nil {
		t.Fatalf("CreateBreakGlass in the older file: %v", err)
	}
}

// The active-pair index holds exactly the events stored as active: a close
// or a sweep removes the key, so the index never grows with history.
func TestActivePairIndexFollowsStoredStatus(t *testing.T) {
	clock := ports.NewFakeClock(testStart)
	store := openForTest(t, filepath.Join(t.TempDir(), "s.db"), clock)
	ctx := t.Context()
	a, err := store.CreateBreakGlass(ctx, activeEvent("a", "alice", "prod", testStart))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateBreakGlass(ctx, activeEvent("b", "alice", "dev", testStart)); err != nil {
		t.Fatal(err)
	}
	expectActiveKeys(t, store, 2)
	a.Status, a.ClosedBy = ports.BreakGlassClosed, "alice"
	if _, err := store.UpdateBreakGlass(ctx, a); err != nil {
		t.Fatal(err)
	}
	expectActiveKeys(t, store, 1)
	clock.Advance(2 * time.Hour)
	if n, err := store.ExpireLapsedBreakGlass(ctx, clock.Now()); err != nil || n != 1 {
		t.Fatalf("ExpireLapsedBreakGlass = %d, %v; want 1", n, err)
	}
	expectActiveKeys(t, store, 0)
}

func expectActiveKeys(t *testing.T, store *Store, want int) {
	t.Helper()
	var got int
	err := store.view(t.Context(), func(tx *bbolt.Tx) error {
		got = tx.Bucket(bucketBGActive).Stats().KeyN
		return nil
	})
	if err != nil || got != want {
		t.Errorf("active-pair index holds %d keys (%v), want %d", got, err, want)
	}
}

// Processes racing to invoke break-glass for one invoker and profile: the
// check and the write share one transaction under the file lock, so exactly
// one process succeeds.
func TestOneActiveBreakGlassAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	store := openForTest(t, path, ports.SystemClock{})
	const processes = 4
	outs := make([]string, processes)
	errs := make([]error, processes)
	var wg sync.WaitGroup
	for p := range processes {
		wg.Go(func() {
			out, err := helperCommand(t, "breakglass", path, fmt.Sprintf("event-%d", p)).CombinedOutput()
			outs[p], errs[p] = string(out), err
		})
	}
	wg.Wait()
	winners := 0
	for p := range processes {
		switch {
		case errs[p] == nil:
			winners++
		case !strings.Contains(outs[p], "an active break-glass exists") || !strings.Contains(outs[p], ports.ErrAlreadyExists.Error()):
			t.Errorf("process %d: %v\n%s\nwant success or the one-active refusal", p, errs[p], outs[p])
		}
	}
	if winners != 1 {
		t.Errorf("%d of %d processes created an active event for the same invoker and profile, want exactly 1", winners, processes)
	}
	page, err := store.ListBreakGlassByInvoker(t.Context(), "alice", ports.Page{Limit: 10})
	if err != nil || len(page.Events) != 1 {
		t.Errorf("ListBreakGlassByInvoker after the race: %d events, %v; want 1", len(page.Events), err)
	}
}
