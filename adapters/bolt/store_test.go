package bolt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/sentinel-gw/sentinel/ports"
)

var testStart = time.Date(2031, time.March, 14, 9, 26, 53, 589_793_123, time.UTC)

// activeSession is a session of user u whose lease runs an hour past start.
func activeSession(id, u string, createdAt time.Time) ports.Session {
	return ports.Session{
		ID: id, User: u, Profile: "prod", ServerInstanceID: "inst-1",
		Status:    ports.SessionActive,
		StartedAt: createdAt, LastAccessAt: createdAt, ExpiresAt: createdAt.Add(time.Hour),
		CreatedAt: createdAt, UpdatedAt: createdAt,
	}
}

func mustCreate(t *testing.T, s *Store, in ports.Session) ports.Session {
	t.Helper()
	got, err := s.CreateSession(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateSession(%s): %v", in.ID, err)
	}
	return got
}

func TestOpenCreatesPrivateFolderAndFile(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "new", "deeper", "sessions.db")
	openForTest(t, path, ports.NewFakeClock(testStart))

	for _, dir := range []string{filepath.Join(root, "new"), filepath.Join(root, "new", "deeper")} {
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != 0o700 {
			t.Errorf("folder %s mode %o, want 700", dir, got)
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode %o, want 600", got)
	}
}

func TestOpenLeavesExistingFolderMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // undo the umask
		t.Fatal(err)
	}
	openForTest(t, filepath.Join(dir, "sessions.db"), ports.NewFakeClock(testStart))
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o755 {
		t.Errorf("existing folder mode changed to %o, want 755 kept", got)
	}
}

func TestOpenRejectsArguments(t *testing.T) {
	clock := ports.NewFakeClock(testStart)
	path := filepath.Join(t.TempDir(), "s.db")
	tests := []struct {
		name  string
		path  string
		clock ports.Clock
		opts  Options
	}{
		{"empty path", "", clock, Options{}},
		{"nil clock", path, nil, Options{}},
		{"negative lock timeout", path, clock, Options{LockTimeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.path, tt.clock, tt.opts)
			if !errors.Is(err, ports.ErrInvalidArgument) {
				t.Errorf("Open: %v, want ErrInvalidArgument", err)
			}
		})
	}
}

func TestOpenRefusesForeignFiles(t *testing.T) {
	foreignBolt := func(t *testing.T, path string) {
		db, err := bbolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bbolt.Tx) error {
			_, err := tx.CreateBucket([]byte("someone-elses"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		write func(t *testing.T, path string)
	}{
		{"short text file", func(t *testing.T, path string) {
			writeFile(t, path, []byte("region = eu-west-1\n"))
		}},
		{"large non-bolt file", func(t *testing.T, path string) {
			writeFile(t, path, bytes.Repeat([]byte("not a database "), 2000))
		}},
		{"bbolt file of another program", foreignBolt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sessions.db")
			tt.write(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(path, ports.NewFakeClock(testStart), Options{LockTimeout: time.Second})
			if !errors.Is(err, ports.ErrCorrupt) {
				t.Fatalf("Open: %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the path", err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("Open changed a file it refused")
			}
		})
	}
}

func TestOpenTwiceKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	clock := ports.NewFakeClock(testStart)
	first := openForTest(t, path, clock)
	mustCreate(t, first, activeSession("a1", "alice", testStart))
	second := openForTest(t, path, clock)
	got, err := second.GetSession(t.Context(), "a1")
	if err != nil || got.User != "alice" {
		t.Fatalf("GetSession after reopen: %+v, %v", got, err)
	}
}

// A file removed or replaced behind the store's back is an error on the
// next operation, never a silently recreated empty store nor a panic.
func TestFileChangedBehindTheStore(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
		want   error
	}{
		{"deleted", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, ports.ErrUnavailable},
		{"replaced by an empty bbolt file", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			db, err := bbolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}, ports.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sessions.db")
			store := openForTest(t, path, ports.NewFakeClock(testStart))
			mustCreate(t, store, activeSession("f1", "alice", testStart))
			tt.change(t, path)
			if _, err := store.GetSession(t.Context(), "f1"); !errors.Is(err, tt.want) {
				t.Errorf("GetSession: %v, want %v", err, tt.want)
			}
			if _, err := store.TouchSession(t.Context(), "f1", testStart, 1); !errors.Is(err, tt.want) {
				t.Errorf("TouchSession: %v, want %v", err, tt.want)
			}
			if _, err := store.CreateSession(t.Context(), activeSession("f2", "alice", testStart)); !errors.Is(err, tt.want) {
				t.Errorf("CreateSession: %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("deleted file stays deleted", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sessions.db")
		store := openForTest(t, path, ports.NewFakeClock(testStart))
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		_, _ = store.CreateSession(t.Context(), activeSession("f3", "alice", testStart))
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a write recreated the deleted file: %v", err)
		}
	})
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLockHeldByAnotherHandleTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	clock := ports.NewFakeClock(testStart)
	const timeout = 300 * time.Millisecond
	store, err := Open(path, clock, Options{LockTimeout: timeout, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, store, activeSession("s1", "alice", testStart))

	// flock(2) locks an open file description, so a second open of the file
	// in this same process conflicts just as another process would.
	holder, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func() error{
		"get": func() error { _, err := store.GetSession(t.Context(), "s1"); return err },
		"touch": func() error {
			_, err := store.TouchSession(t.Context(), "s1", testStart, 1)
			return err
		},
		"list": func() error {
			_, err := store.ListSessionsByUser(t.Context(), "alice", ports.Page{Limit: 10})
			return err
		},
	}
	for name, op := range ops {
		began := time.Now()
		err := op()
		waited := time.Since(began)
		if !errors.Is(err, ports.ErrUnavailable) || !errors.Is(err, berrors.ErrTimeout) {
			t.Errorf("%s with the file locked: %v, want ErrUnavailable and bbolt's ErrTimeout", name, err)
		}
		if err != nil && (!strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "locked by another process")) {
			t.Errorf("%s: error %q should name the path and the lock", name, err)
		}
		if waited < timeout/2 || waited > timeout+time.Second {
			t.Errorf("%s gave up after %s, want about %s", name, waited, timeout)
		}
	}
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetSession(t.Context(), "s1"); err != nil {
		t.Errorf("GetSession once the lock is released: %v", err)
	}
}

func TestCallerContextEndsLockWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	store, err := Open(path, ports.NewFakeClock(testStart), Options{LockTimeout: 10 * time.Second, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	holder, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err = store.GetSession(ctx, "s1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetSession: %v, want the caller's deadline", err)
	}
	if waited := time.Since(began); waited > 2*time.Second {
		t.Errorf("waited %s despite a 200ms context", waited)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	store := openForTest(t, filepath.Join(t.TempDir(), "s.db"), ports.NewFakeClock(testStart))
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetSession(t.Context(), "x"); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("GetSession after Close: %v, want ErrUnavailable", err)
	}
}

func TestRevokeByAnotherStoreSeenOnNextRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	clock := ports.NewFakeClock(testStart)
	server := openForTest(t, path, clock)
	revoker := openForTest(t, path, clock)

	created := mustCreate(t, server, activeSession("s1", "alice", testStart))
	if _, err := server.TouchSession(t.Context(), "s1", testStart.Add(time.Second), 1); err != nil {
		t.Fatal(err)
	}
	cur, err := revoker.GetSession(t.Context(), "s1")
	if err != nil {
		t.Fatal(err)
	}
	cur.Status, cur.RevokedBy = ports.SessionRevoked, "bob"
	if _, err := revoker.UpdateSession(t.Context(), cur); err != nil {
		t.Fatal(err)
	}
	got, err := server.GetSession(t.Context(), "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != ports.SessionRevoked || got.RevokedBy != "bob" || got.Version != created.Version+2 {
		t.Errorf("server reads %s by %q v%d, want revoked by bob v%d", got.Status, got.RevokedBy, got.Version, created.Version+2)
	}
	// A late touch keeps the revoke.
	touched, err := server.TouchSession(t.Context(), "s1", testStart.Add(2*time.Second), 1)
	if err != nil || touched.Status != ports.SessionRevoked {
		t.Errorf("touch after revoke: %s, %v; want revoked kept", touched.Status, err)
	}
}

func TestCorruptRecords(t *testing.T) {
	good := activeSession("c1", "carol", testStart)
	tests := []struct {
		name string
		raw  string
	}{
		{"not json", `not json at all`},
		{"truncated", `{"v":1,"session":{"id":"c1"`},
		{"unknown envelope version", `{"v":2,"session":{"id":"c1","status":"active","version":1}}`},
		{"no envelope", `{"id":"c1","status":"active","version":1}`},
		{"unknown status", `{"v":1,"session":{"id":"c1","status":"paused","version":1}}`},
		{"foreign id", `{"v":1,"session":{"id":"c2","status":"active","version":1}}`},
		{"version zero", `{"v":1,"session":{"id":"c1","status":"active","version":0}}`},
		{"bad time", `{"v":1,"session":{"id":"c1","status":"active","version":1,"created_at":"yesterday"}}`},
		{"empty", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := openForTest(t, filepath.Join(t.TempDir(), "s.db"), ports.NewFakeClock(testStart))
			created := mustCreate(t, store, good)
			if err := store.PutRawForTest("c1", []byte(tt.raw)); err != nil {
				t.Fatal(err)
			}
			checks := map[string]func() error{
				"get": func() error { _, err := store.GetSession(t.Context(), "c1"); return err },
				"update": func() error {
					_, err := store.UpdateSession(t.Context(), created)
					return err
				},
				"touch": func() error {
					_, err := store.TouchSession(t.Context(), "c1", testStart, 1)
					return err
				},
				"list by user": func() error {
					_, err := store.ListSessionsByUser(t.Context(), "carol", ports.Page{Limit: 5})
					return err
				},
				"list expired": func() error {
					_, err := store.ListSessionsByStatus(t.Context(), ports.SessionExpired, ports.Page{Limit: 5})
					return err
				},
				"expire lapsed": func() error {
					_, err := store.ExpireLapsedSessions(t.Context(), testStart.Add(2*time.Hour))
					return err
				},
			}
			for name, check := range checks {
				err := check()
				if !errors.Is(err, ports.ErrCorrupt) {
					t.Errorf("%s: %v, want ErrCorrupt", name, err)
					continue
				}
				if !strings.Contains(err.Error(), `"c1"`) {
					t.Errorf("%s: error %q does not name the id", name, err)
				}
			}
		})
	}
}

func TestUpdateMovesIndexes(t *testing.T) {
	store := openForTest(t, filepath.Join(t.TempDir(), "s.db"), ports.NewFakeClock(testStart))
	cur := mustCreate(t, store, activeSession("m1", "alice", testStart))
	cur.User, cur.Profile, cur.ServerInstanceID, cur.Status = "bob", "dev", "inst-2", ports.SessionRevoked
	if _, err := store.UpdateSession(t.Context(), cur); err != nil {
		t.Fatal(err)
	}
	p := ports.Page{Limit: 10}
	lists := []struct {
		name string
		list func() (ports.SessionPage, error)
		want int
	}{
		{"old user", func() (ports.SessionPage, error) { return store.ListSessionsByUser(t.Context(), "alice", p) }, 0},
		{"new user", func() (ports.SessionPage, error) { return store.ListSessionsByUser(t.Context(), "bob", p) }, 1},
		{"old profile", func() (ports.SessionPage, error) { return store.ListSessionsByProfile(t.Context(), "prod", p) }, 0},
		{"new profile", func() (ports.SessionPage, error) { return store.ListSessionsByProfile(t.Context(), "dev", p) }, 1},
		{"old instance", func() (ports.SessionPage, error) { return store.ListSessionsByServerInstance(t.Context(), "inst-1", p) }, 0},
		{"new instance", func() (ports.SessionPage, error) { return store.ListSessionsByServerInstance(t.Context(), "inst-2", p) }, 1},
		{"active", func() (ports.SessionPage, error) {
			return store.ListSessionsByStatus(t.Context(), ports.SessionActive, p)
		}, 0},
		{"revoked", func() (ports.SessionPage, error) {
			return store.ListSessionsByStatus(t.Context(), ports.SessionRevoked, p)
		}, 1},
	}
	for _, l := range lists {
		page, err := l.list()
		if err != nil {
			t.Fatalf("%s: %v", l.name, err)
		}
		if len(page.Sessions) != l.want {
			t.Errorf("%s lists %d sessions, want %d", l.name, len(page.Sessions), l.want)
		}
	}
}

// Stored-expired and lapsed-active sessions interleave in one expired
// listing, page by page, in CreatedAt order.
func TestExpiredListingMergesLapsedActive(t *testing.T) {
	clock := ports.NewFakeClock(testStart)
	store := openForTest(t, filepath.Join(t.TempDir(), "s.db"), clock)
	var wantIDs []string
	for i := range 9 {
		s := activeSession(string(rune('a'+i)), "u", testStart.Add(time.Duration(i)*time.Second))
		switch i % 3 {
		case 0: // lapses when the clock moves
			s.ExpiresAt = testStart.Add(time.Minute)
			wantIDs = append(wantIDs, s.ID)
		case 1:
			s.Status = ports.SessionExpired
			wantIDs = append(wantIDs, s.ID)
		case 2: // stays active
			s.ExpiresAt = testStart.Add(24 * time.Hour)
		}
		mustCreate(t, store, s)
	}
	clock.Advance(time.Hour)
	var gotIDs []string
	p := ports.Page{Limit: 2}
	for {
		page, err := store.ListSessionsByStatus(t.Context(), ports.SessionExpired, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Sessions {
			if s.Status != ports.SessionExpired {
				t.Errorf("%s listed as %s", s.ID, s.Status)
			}
			gotIDs = append(gotIDs, s.ID)
		}
		if page.Next == "" {
			break
		}
		p.Cursor = page.Next
	}
	for i, j := 0, len(wantIDs)-1; i < j; i, j = i+1, j-1 {
		wantIDs[i], wantIDs[j] = wantIDs[j], wantIDs[i]
	}
	if strings.Join(gotIDs, ",") != strings.Join(wantIDs, ",") {
		t.Errorf("expired listing %v, want %v", gotIDs, wantIDs)
	}
	active, err := store.ListSessionsByStatus(t.Context(), ports.SessionActive, ports.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(active.Sessions) != 3 {
		t.Errorf("active listing has %d sessions, want the 3 unlapsed", len(active.Sessions))
	}
}

// Index keys order by CreatedAt across the whole time range, including
// times before 1970 and the zero time, then by id.
func TestPositionKeyOrder(t *testing.T) {
	positions := []struct {
		at time.Time
		id string
	}{
		{time.Time{}, "z"},
		{time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC), "a"},
		{time.Unix(0, 0), "a"},
		{time.Unix(0, 0), "ab"},
		{time.Unix(0, 0), "b"},
		{time.Unix(0, 1), "a"},
		{testStart, "a"},
		{testStart.Add(time.Nanosecond), "0"},
	}
	for i := 1; i < len(positions); i++ {
		a := indexKey("v", positions[i-1].at, positions[i-1].id)
		b := indexKey("v", positions[i].at, positions[i].id)
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("key of %v/%s does not sort before %v/%s", positions[i-1].at, positions[i-1].id, positions[i].at, positions[i].id)
		}
	}
	// No value's keys fall inside another value's range.
	if bytes.HasPrefix(indexKey("ab", testStart, "x"), indexPrefix("a")) {
		t.Error("value a's prefix covers value ab's keys")
	}
}

func TestSuccessor(t *testing.T) {
	tests := []struct{ in, want []byte }{
		{[]byte{0, 0, 0, 1, 'a'}, []byte{0, 0, 0, 1, 'b'}},
		{[]byte{1, 0xff}, []byte{2}},
		{[]byte{0xff, 0xff}, nil},
	}
	for _, tt := range tests {
		if got := successor(tt.in); !bytes.Equal(got, tt.want) {
			t.Errorf("successor(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
