package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"sync"

	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/internal/gather"
	"github.com/sentinel-gw/sentinel/ports"
)

// A credential server or broker reads its session record on every request,
// and each read through bbolt opens the file, takes the flock, maps it,
// decodes the record and closes it again. sessionCache keeps the records it
// read with the transaction id they were read at, and serves one again only
// while the file's transaction id is still that one: bbolt writes a new meta
// page, with a higher transaction id, as the last step of every commit, so
// an unchanged id means no write has committed since, in this process or any
// other. The check reads the two meta pages without the lock (an open, two
// small reads and a close), and anything it cannot vouch for (a missing or
// replaced file, a meta page torn by a commit in progress, a checksum or
// format it does not know) sends the read down the locked path. The layout
// read here is bbolt's on-disk format, version 2, unchanged since bbolt's
// first release; a test checks it against the transaction ids bbolt itself
// reports.

// maxSessionReads bounds the session reads gathered into one transaction.
const maxSessionReads = 256

// sessionCacheSize bounds the records kept; past it, an arbitrary one goes.
const sessionCacheSize = 4096

// bbolt's meta page, as bbolt writes it (host byte order): a 16-byte page
// header, then magic, version, pageSize, flags (4 bytes each), the root
// bucket (16), freelist and high-water page ids (8 each), txid and an
// FNV-64a checksum of everything before it.
const (
	metaPageHeader = 16
	metaMagic      = 0xED0CDAED
	metaVersion    = 2
	metaSumOffset  = 56 // checksum's offset in the meta, and the length it covers
	metaTxidOffset = 48
	metaLen        = 64
)

// fileStamp is what a cached record was read at: the file it came from and
// the file's transaction id.
type fileStamp struct {
	info os.FileInfo // identity, size and modification time
	txid uint64
}

// same reports whether now stamps the file the record was read from, with no
// commit since.
func (st fileStamp) same(now fileStamp) bool {
	return st.txid == now.txid && st.info.Size() == now.info.Size() &&
		st.info.ModTime().Equal(now.info.ModTime()) && os.SameFile(st.info, now.info)
}

// stampFile reads path's current stamp without the file lock; ok is false
// when it cannot vouch for one.
func stampFile(path string) (fileStamp, bool) {
	f, err := os.Open(path) //nolint:gosec // G703: the path is the user's own store setting, as for G304
	if err != nil {
		return fileStamp{}, false
	}
	defer func() { _ = f.Close() }()
	return stampOf(f)
}

// stampOf reads the stamp of the open file f.
func stampOf(f *os.File) (fileStamp, bool) {
	info, err := f.Stat()
	if err != nil {
		return fileStamp{}, false
	}
	var buf [metaLen]byte
	if _, err := f.ReadAt(buf[:], metaPageHeader); err != nil {
		return fileStamp{}, false
	}
	tx0, pageSize, ok := parseMeta(buf[:])
	if !ok {
		return fileStamp{}, false
	}
	if _, err := f.ReadAt(buf[:], int64(pageSize)+metaPageHeader); err != nil {
		return fileStamp{}, false
	}
	tx1, pageSize1, ok := parseMeta(buf[:])
	if !ok || pageSize1 != pageSize {
		return fileStamp{}, false
	}
	return fileStamp{info: info, txid: max(tx0, tx1)}, true
}

// parseMeta checks one meta (magic, version, checksum) and returns its
// transaction id and page size.
func parseMeta(m []byte) (txid uint64, pageSize uint32, ok bool) {
	if len(m) < metaLen {
		return 0, 0, false
	}
	ne := binary.NativeEndian
	if ne.Uint32(m[0:]) != metaMagic || ne.Uint32(m[4:]) != metaVersion {
		return 0, 0, false
	}
	h := fnv.New64a()
	_, _ = h.Write(m[:metaSumOffset])
	if h.Sum64() != ne.Uint64(m[metaSumOffset:]) {
		return 0, 0, false
	}
	pageSize = ne.Uint32(m[8:])
	if pageSize < 512 || pageSize > 1<<20 {
		return 0, 0, false
	}
	return ne.Uint64(m[metaTxidOffset:]), pageSize, true
}

// sessionCache holds session records by id with the stamp they were read at.
type sessionCache struct {
	mu   sync.Mutex
	byID map[string]cachedSession
}

type cachedSession struct {
	stamp fileStamp
	rec   ports.Session
}

// get returns the record of id as last read, when the file at path has not
// changed since; the caller owns the copy.
func (c *sessionCache) get(path, id string) (ports.Session, bool) {
	c.mu.Lock()
	hit, found := c.byID[id]
	c.mu.Unlock()
	if !found {
		return ports.Session{}, false
	}
	now, ok := stampFile(path)
	if !ok || !hit.stamp.same(now) {
		return ports.Session{}, false
	}
	return cloneSession(hit.rec), true
}

// put keeps rec, read at stamp.
func (c *sessionCache) put(id string, stamp fileStamp, rec ports.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil {
		c.byID = make(map[string]cachedSession)
	}
	if _, found := c.byID[id]; !found && len(c.byID) >= sessionCacheSize {
		for other := range c.byID {
			delete(c.byID, other)
			break
		}
	}
	c.byID[id] = cachedSession{stamp: stamp, rec: cloneSession(rec)}
}

// cloneSession copies the record's slices, so no caller shares them.
func cloneSession(s ports.Session) ports.Session {
	s.RoleARNs = slices.Clone(s.RoleARNs)
	s.AssumedRoleIDs = slices.Clone(s.AssumedRoleIDs)
	return s
}

// sessionRead is one record read under the lock, with the file's stamp then
// (no stamp, a nil info, when the stamp could not be vouched for).
type sessionRead struct {
	rec   ports.Session
	stamp fileStamp
}

// beforeStampForTest, when set, runs in readSessions's transaction before
// the stamp is taken (a test swaps the file there).
var beforeStampForTest func()

// readSessions reads sessions ids in one read transaction: under load the
// reads that miss memory gather (internal/gather) and share one open of the
// file, one flock and one map. The stamp is taken from the very file bbolt
// locked and mapped (not from the path, which a file swapped in meanwhile
// may hold), and under the lock nothing commits, so it is the read's own;
// one that disagrees with bbolt's txid is never trusted.
func (s *Store) readSessions(ctx context.Context, ids []string) []gather.Result[sessionRead] {
	out := make([]gather.Result[sessionRead], len(ids))
	err := s.viewFile(ctx, func(tx *bbolt.Tx, f *os.File) error {
		if beforeStampForTest != nil {
			beforeStampForTest()
		}
		var stamp fileStamp
		if st, ok := stampOf(f); ok && st.txid == uint64(tx.ID()) {
			stamp = st
		}
		for i, id := range ids {
			s.countReads(1)
			rec, err := sessionRecords.read(tx, id)
			if err != nil {
				out[i].Err = mapError(s.path, s.lockTimeout, fmt.Errorf("bolt: get session %q: %w", id, err))
				continue
			}
			out[i].Value = sessionRead{rec: rec, stamp: stamp}
		}
		return nil
	})
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
	}
	return out
}
