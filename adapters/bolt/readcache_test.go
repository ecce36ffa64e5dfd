package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/ports"
)

// The stamp's transaction id is the one bbolt itself reports, commit after
// commit: the check reads bbolt's own format, and this pins it.
func TestStampFollowsBboltTxid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raw.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	var last uint64
	for i := range 5 {
		if err := db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put([]byte{byte(i)}, make([]byte, 100*i))
		}); err != nil {
			t.Fatal(err)
		}
		var want uint64
		if err := db.View(func(tx *bbolt.Tx) error { want = uint64(tx.ID()); return nil }); err != nil {
			t.Fatal(err)
		}
		got, ok := stampFile(path)
		if !ok || got.txid != want || got.txid <= last {
			t.Fatalf("commit %d: stamp %d (ok %v), bbolt says %d, previous %d", i, got.txid, ok, want, last)
		}
		last = got.txid
	}
}

// readCounted opens the file with a read counter: a record served from
// memory counts no read.
func readCounted(t *testing.T, path string) (*Store, *atomic.Int64) {
	t.Helper()
	reads := new(atomic.Int64)
	s, err := Open(path, ports.SystemClock{}, Options{LockTimeout: testLockTimeout, NoSync: true, ReadCounter: reads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, reads
}

// An unchanged file serves the record from memory; any commit since, by
// another Store on the file, sends the next read to the file.
func TestSessionReadsFromMemoryUntilACommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	server, reads := readCounted(t, path)
	revoker := openForTest(t, path, ports.SystemClock{})
	s := activeSession("0123456789abcdef0123456789abcdef", "alice", time.Now())
	mustCreate(t, revoker, s)

	for range 3 {
		got, err := server.GetSession(t.Context(), s.ID)
		if err != nil || got.Status != ports.SessionActive {
			t.Fatalf("GetSession = %s, %v; want active", got.Status, err)
		}
	}
	if n := reads.Load(); n != 1 {
		t.Fatalf("3 reads of an unchanged file read the file %d times, want 1", n)
	}

	// A commit that does not touch this record still sends the read back.
	mustCreate(t, revoker, activeSession("fedcba9876543210fedcba9876543210", "bob", time.Now()))
	if _, err := server.GetSession(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	if n := reads.Load(); n != 2 {
		t.Fatalf("after another record's commit: %d file reads, want 2", n)
	}

	cur, err := revoker.GetSession(t.Context(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.Status, cur.RevokedBy, cur.RevokedReason, cur.RevokedAt = ports.SessionRevoked, "sec", "test", time.Now()
	if _, err := revoker.UpdateSession(t.Context(), cur); err != nil {
		t.Fatal(err)
	}
	got, err := server.GetSession(t.Context(), s.ID)
	if err != nil || got.Status != ports.SessionRevoked || got.RevokedBy != "sec" {
		t.Fatalf("after the revoke: %s by %q, %v; want revoked by sec", got.Status, got.RevokedBy, err)
	}
}

// A record from memory is the caller's own: changing its slices changes
// nothing that a later read returns.
func TestSessionFromMemoryIsACopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	server, reads := readCounted(t, path)
	s := activeSession("0123456789abcdef0123456789abcdef", "alice", time.Now())
	s.RoleARNs = []string{"arn:aws:iam::111122223333:role/prod"}
	mustCreate(t, server, s)
	for range 2 {
		got, err := server.GetSession(t.Context(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		got.RoleARNs[0] = "changed by the caller"
	}
	got, err := server.GetSession(t.Context(), s.ID)
	if err != nil || got.RoleARNs[0] != s.RoleARNs[0] {
		t.Fatalf("RoleARNs = %v, %v; want %v", got.RoleARNs, err, s.RoleARNs)
	}
	if reads.Load() != 1 {
		t.Fatalf("%d file reads, want 1 (the rest from memory)", reads.Load())
	}
}

// A file replaced by another store file with the same transaction id is a
// different file: the record is read from the new one.
// twinFiles makes two store files with the same transaction id and the
// same session: active in the file at path, revoked ("replaced") in other.
// server reads path and has not read the session yet.
func twinFiles(t *testing.T) (path, other string, s ports.Session, server *Store) {
	t.Helper()
	dir := t.TempDir()
	path, other = filepath.Join(dir, "sessions.db"), filepath.Join(dir, "other.db")
	s = activeSession("0123456789abcdef0123456789abcdef", "alice", time.Now())
	for _, p := range []string{path, other} {
		mustCreate(t, openForTest(t, p, ports.SystemClock{}), s)
	}
	// The same commits on both files, one a revoke; then touches that count
	// nothing even out their transaction ids.
	writers := map[string]*Store{path: openForTest(t, path, ports.SystemClock{}), other: openForTest(t, other, ports.SystemClock{})}
	server, _ = readCounted(t, path)
	for p, w := range writers {
		cur, err := w.GetSession(t.Context(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p == other {
			cur.Status, cur.RevokedBy, cur.RevokedReason, cur.RevokedAt = ports.SessionRevoked, "sec", "replaced", time.Now()
		} else {
			cur.RequestCount++
		}
		if _, err := w.UpdateSession(t.Context(), cur); err != nil {
			t.Fatal(err)
		}
	}
	for {
		a, okA := stampFile(path)
		b, okB := stampFile(other)
		if !okA || !okB {
			t.Fatal("no stamp of a store file")
		}
		if a.txid == b.txid {
			return path, other, s, server
		}
		lower := path
		if b.txid < a.txid {
			lower = other
		}
		if _, err := writers[lower].TouchSession(t.Context(), s.ID, time.Now(), 0); err != nil {
			t.Fatal(err)
		}
	}
}

// replaceKeepingTime renames other over path, with path's modification
// time first, so only the file's identity tells them apart.
func replaceKeepingTime(t *testing.T, other, path string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(other, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
}

// A file swapped in with the same transaction id (a restore, a copy) is
// another file: its records are read from it, not served from memory.
func TestSessionReadAfterTheFileIsReplaced(t *testing.T) {
	path, other, s, server := twinFiles(t)
	if got, err := server.GetSession(t.Context(), s.ID); err != nil || got.Status != ports.SessionActive {
		t.Fatalf("before: %s, %v", got.Status, err)
	}
	if a, b := mustStamp(t, path), mustStamp(t, other); a.txid != b.txid {
		t.Fatalf("the files' txids differ (%d, %d) after the read; the test needs them equal", a.txid, b.txid)
	}
	replaceKeepingTime(t, other, path)
	got, err := server.GetSession(t.Context(), s.ID)
	if err != nil || got.Status != ports.SessionRevoked || got.RevokedReason != "replaced" {
		t.Fatalf("after the file was replaced: %s for %q, %v; want revoked for replaced", got.Status, got.RevokedReason, err)
	}
}

// A file swapped in while a read holds the old one open: the record read
// from the old file is never kept under the new file's stamp, so the next
// reads see the new file's revoke.
func TestSessionReadWhileTheFileIsReplaced(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows does not rename over a file another handle holds open: the race cannot happen there")
	}
	path, other, s, server := twinFiles(t)
	swapped := false
	beforeStampForTest = func() {
		if !swapped {
			swapped = true
			replaceKeepingTime(t, other, path)
		}
	}
	t.Cleanup(func() { beforeStampForTest = nil })
	if got, err := server.GetSession(t.Context(), s.ID); err != nil || got.Status != ports.SessionActive {
		t.Fatalf("the read during the swap: %s, %v; want the old file's active record", got.Status, err)
	}
	if !swapped {
		t.Fatal("the read did not reach the stamp")
	}
	for i := range 3 {
		got, err := server.GetSession(t.Context(), s.ID)
		if err != nil || got.Status != ports.SessionRevoked {
			t.Fatalf("read %d after the swap: %s, %v; want the new file's revoke", i, got.Status, err)
		}
	}
}

func mustStamp(t *testing.T, path string) fileStamp {
	t.Helper()
	st, ok := stampFile(path)
	if !ok {
		t.Fatalf("no stamp of %s", path)
	}
	return st
}

// A closed store and a deleted file fail as before: memory is no way around them.
func TestSessionFromMemoryNotAfterCloseOrDelete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	server, _ := readCounted(t, path)
	s := mustCreate(t, server, activeSession("0123456789abcdef0123456789abcdef", "alice", time.Now()))
	if _, err := server.GetSession(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := server.GetSession(t.Context(), s.ID); err == nil {
		t.Fatal("GetSession on a deleted file succeeded")
	}
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := server.GetSession(t.Context(), s.ID); err == nil {
		t.Fatal("GetSession on a closed store succeeded")
	}
}

// validMeta is a meta page's meta as bbolt writes it.
func validMeta(pageSize uint32, txid uint64) []byte {
	m := make([]byte, metaLen)
	ne := binary.NativeEndian
	ne.PutUint32(m[0:], metaMagic)
	ne.PutUint32(m[4:], metaVersion)
	ne.PutUint32(m[8:], pageSize)
	ne.PutUint64(m[metaTxidOffset:], txid)
	h := fnv.New64a()
	_, _ = h.Write(m[:metaSumOffset])
	ne.PutUint64(m[metaSumOffset:], h.Sum64())
	return m
}

func TestParseMeta(t *testing.T) {
	t.Parallel()
	edit := func(f func(m []byte)) []byte { m := validMeta(4096, 7); f(m); return m }
	tests := []struct {
		name string
		meta []byte
		ok   bool
	}{
		{"valid", validMeta(4096, 7), true},
		{"valid 16 KiB pages", validMeta(16384, 7), true},
		{"short", validMeta(4096, 7)[:metaLen-1], false},
		{"wrong magic", edit(func(m []byte) { m[0] ^= 1 }), false},
		{"wrong version", edit(func(m []byte) { binary.NativeEndian.PutUint32(m[4:], 3) }), false},
		{"torn: txid without its checksum", edit(func(m []byte) { m[metaTxidOffset]++ }), false},
		{"torn: checksum of another meta", edit(func(m []byte) { m[metaSumOffset]++ }), false},
		{"absurd page size", validMeta(8, 7), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			txid, pageSize, ok := parseMeta(tt.meta)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && (txid != 7 || pageSize == 0) {
				t.Fatalf("txid %d page size %d, want 7 and the meta's", txid, pageSize)
			}
		})
	}
}

// FuzzParseMeta: any bytes give an answer, and a yes only for a meta whose
// checksum holds.
func FuzzParseMeta(f *testing.F) {
	f.Add(validMeta(4096, 1))
	f.Add(make([]byte, metaLen))
	f.Fuzz(func(t *testing.T, m []byte) {
		txid, _, ok := parseMeta(m)
		if !ok {
			return
		}
		again := validMeta(binary.NativeEndian.Uint32(m[8:]), txid)
		copy(again[12:metaTxidOffset], m[12:metaTxidOffset])
		h := fnv.New64a()
		_, _ = h.Write(again[:metaSumOffset])
		if h.Sum64() != binary.NativeEndian.Uint64(m[metaSumOffset:]) {
			t.Fatalf("accepted a meta whose checksum does not hold: %x", m)
		}
	})
}

// Session reads gathered into one transaction answer each id: its record
// with the transaction's stamp, or ErrNotFound.
func TestReadSessionsInOneTransaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, reads := readCounted(t, path)
	a := mustCreate(t, s, activeSession("0123456789abcdef0123456789abcdef", "alice", time.Now()))
	b := mustCreate(t, s, activeSession("fedcba9876543210fedcba9876543210", "bob", time.Now()))
	missing := "00000000000000000000000000000000"
	got := s.readSessions(t.Context(), []string{a.ID, missing, b.ID})
	if len(got) != 3 {
		t.Fatalf("%d answers for 3 ids", len(got))
	}
	for i, want := range []ports.Session{a, {}, b} {
		r := got[i]
		switch {
		case want.ID == "":
			if !errors.Is(r.Err, ports.ErrNotFound) {
				t.Errorf("missing id: %v, want ErrNotFound", r.Err)
			}
		case r.Err != nil || r.Value.rec.ID != want.ID || r.Value.rec.User != want.User:
			t.Errorf("answer %d = %+v, %v; want %s", i, r.Value.rec, r.Err, want.ID)
		case r.Value.stamp.info == nil || r.Value.stamp.txid != mustStamp(t, path).txid:
			t.Errorf("answer %d has stamp %+v, want the file's", i, r.Value.stamp)
		}
	}
	if reads.Load() != 3 {
		t.Errorf("%d records read, want 3", reads.Load())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.readSessions(t.Context(), []string{a.ID, b.ID}) {
		if !errors.Is(r.Err, ports.ErrUnavailable) {
			t.Errorf("a read on a closed store: %v, want ErrUnavailable", r.Err)
		}
	}
}

// A record written behind Sentinel's back (straight into the file, the
// indexes and the version left alone) after the server read it is what the
// server reads next: a revoke planted so, and corrupt bytes.
func TestSessionFromMemoryNotAfterAWriteBehindSentinelsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	server, reads := readCounted(t, path)
	s := mustCreate(t, server, activeSession("0123456789abcdef0123456789abcdef", "alice", time.Now()))
	for range 2 {
		if _, err := server.GetSession(t.Context(), s.ID); err != nil {
			t.Fatal(err)
		}
	}
	if reads.Load() != 1 {
		t.Fatalf("%d file reads of an unchanged record, want 1 (the test needs it in memory)", reads.Load())
	}
	other := openForTest(t, path, ports.SystemClock{})
	revoked := s
	revoked.Status, revoked.RevokedBy, revoked.RevokedReason, revoked.RevokedAt = ports.SessionRevoked, "mallory", "planted", time.Now().UTC()
	raw, err := encodeSession(revoked)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.putRawForTest(bucketSessions, s.ID, raw); err != nil {
		t.Fatal(err)
	}
	if got, err := server.GetSession(t.Context(), s.ID); err != nil || got.Status != ports.SessionRevoked || got.RevokedReason != "planted" {
		t.Fatalf("after a revoke written straight into the file: %s for %q, %v; want it read", got.Status, got.RevokedReason, err)
	}
	if err := other.putRawForTest(bucketSessions, s.ID, []byte(`{"v":1,"session":{"id":`)); err != nil {
		t.Fatal(err)
	}
	if _, err := server.GetSession(t.Context(), s.ID); !errors.Is(err, ports.ErrCorrupt) {
		t.Fatalf("after corrupt bytes written straight into the file: %v, want ErrCorrupt", err)
	}
}

// A record's bytes patched in the file by hand (no bbolt commit, so the
// transaction id stays) are read again once the file's modification time
// or size has moved: memory serves only a file that looks untouched.
func TestSessionReadAfterAnEditInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	server, _ := readCounted(t, path)
	s := mustCreate(t, server, activeSession("0123456789abcdef0123456789abcdef", "alice", time.Now()))
	if got, err := server.GetSession(t.Context(), s.ID); err != nil || got.User != "alice" {
		t.Fatalf("before: %q, %v", got.User, err)
	}
	before := mustStamp(t, path)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(raw, []byte(`"alice"`)); n != 1 {
		t.Fatalf("the user appears %d times in the file; the test patches exactly one", n)
	}
	if err := os.WriteFile(path, bytes.Replace(raw, []byte(`"alice"`), []byte(`"alicf"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	later := before.info.ModTime().Add(2 * time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if after := mustStamp(t, path); after.txid != before.txid || !os.SameFile(after.info, before.info) {
		t.Fatal("the edit changed the transaction id or the file; the test needs both kept")
	}
	if got, err := server.GetSession(t.Context(), s.ID); err != nil || got.User != "alicf" {
		t.Fatalf("after an edit in place: %q, %v; want the file's alicf", got.User, err)
	}
}
