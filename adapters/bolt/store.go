// Package bolt is the bbolt implementation of ports.Stores (sessions,
// approval requests, break-glass events): the embedded default store for
// offline and solo users.
//
// Several sentinel processes may share one file (a long-running credential
// server and a `sentinel server-revoke` from another terminal), and bbolt's
// file lock is exclusive per process. So the store never holds the file
// open: every operation opens it, runs one transaction and closes it. A write
// made by one process is therefore seen by the next read of any other, and a
// lock that stays taken ends in an error wrapping ports.ErrUnavailable after
// Options.LockTimeout, never a hang.
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/sentinel-gw/sentinel/internal/gather"
	"github.com/sentinel-gw/sentinel/ports"
)

// DefaultLockTimeout is how long an operation waits for the file lock when
// Options.LockTimeout is zero.
const DefaultLockTimeout = 2 * time.Second

// File and folder modes: sessions name users and profiles, so only the owner
// may read them.
const (
	fileMode   os.FileMode = 0o600
	folderMode os.FileMode = 0o700
)

// Options tune a Store.
type Options struct {
	// LockTimeout bounds the wait for the file lock; zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// NoSync skips fsync on commit. For tests and benchmarks only: a crash
	// may lose or tear recent writes.
	NoSync bool
	// MustExist opens only a file that is already there: Open creates
	// neither the file nor its folder, and a missing file is an error
	// wrapping ports.ErrNotFound. For commands that only read what was
	// recorded, so that looking never leaves a file behind.
	MustExist bool
	// ReadCounter, when set, counts the records read from the file (by
	// gets, listings and sweeps), for measurements such as sentinel-bench
	// -mode scale. Nil, the default, costs one nil check per record.
	ReadCounter *atomic.Int64
}

// missingError is Open's error for a MustExist file that is not there.
type missingError struct{ path string }

func (e *missingError) Error() string {
	return fmt.Sprintf("no store at %s (nothing recorded there yet)", e.path)
}

func (e *missingError) Unwrap() error { return ports.ErrNotFound }

// Store is a ports.Stores on a bbolt file, safe for concurrent use by
// goroutines and by processes.
type Store struct {
	path        string
	clock       ports.Clock
	lockTimeout time.Duration
	noSync      bool
	gate        gate
	closed      atomic.Bool
	feed        feedServer   // the server side of the session feed (watch.go)
	sessions    sessionCache // session records read, while the file is unchanged
	// sessionReads gathers the session reads that miss sessions.
	sessionReads *gather.Group[string, sessionRead]
	reads        *atomic.Int64 // Options.ReadCounter
}

var _ ports.Stores = (*Store)(nil)

// Open prepares the store file at path and closes it again. It creates
// missing parent folders with mode 0700 and a new file with mode 0600 (an
// existing folder or file keeps its mode), checks that an existing file is a
// sentinel bbolt store, and creates the buckets once.
func Open(path string, clock ports.Clock, opts Options) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("bolt: open: empty path: %w", ports.ErrInvalidArgument)
	}
	if clock == nil {
		return nil, fmt.Errorf("bolt: open %s: nil clock: %w", path, ports.ErrInvalidArgument)
	}
	if opts.LockTimeout < 0 {
		return nil, fmt.Errorf("bolt: open %s: negative lock timeout %s: %w", path, opts.LockTimeout, ports.ErrInvalidArgument)
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	mode := createFile
	if opts.MustExist {
		// readWrite opens without O_CREATE, so a file removed after this
		// check is an error too, never a new store.
		mode = readWrite
		if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) { //nolint:gosec // G703: the path is the user's own store setting, as for G304
			return nil, &missingError{path: abs}
		}
	} else if err := os.MkdirAll(filepath.Dir(abs), folderMode); err != nil { //nolint:gosec // G703: the path is the user's own store setting, as for G304
		return nil, fmt.Errorf("bolt: create the folder of the store file %s: %w", path, err)
	}
	s := &Store{
		path:        abs,
		clock:       clock,
		lockTimeout: opts.LockTimeout,
		noSync:      opts.NoSync,
		gate:        gateFor(abs),
		reads:       opts.ReadCounter,
	}
	s.sessionReads = gather.New(maxSessionReads, s.readSessions)
	err = s.withDB(context.Background(), mode, func(db *bbolt.DB, _ *os.File) error { return db.Update(initLayout(abs)) })
	if err != nil {
		return nil, err
	}
	return s, nil
}

// initLayout checks that the file is new or a sentinel store, and creates
// the buckets.
func initLayout(abs string) func(*bbolt.Tx) error {
	return func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta != nil {
			if got := meta.Get(keySchema); !bytes.Equal(got, schemaValue) {
				return fmt.Errorf("bolt: the store file %s holds schema %q, want %q: %w", abs, got, schemaValue, ports.ErrCorrupt)
			}
		} else if hasForeignBuckets(tx) {
			return fmt.Errorf("bolt: the store file %s is a bbolt file of something else: %w", abs, ports.ErrCorrupt)
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, schemaValue)
	}
}

// hasForeignBuckets reports whether the file already holds any bucket: a
// file without our meta bucket must be empty to become a store.
func hasForeignBuckets(tx *bbolt.Tx) bool {
	name, _ := tx.Cursor().First()
	return name != nil
}

// Path returns the absolute path of the store file.
func (s *Store) Path() string { return s.path }

// Close marks the store closed; it holds no file between operations.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// CreateSession stores in as given with Version 1.
func (s *Store) CreateSession(ctx context.Context, in ports.Session) (ports.Session, error) {
	return sessionRecords.create(ctx, s, in, nil)
}

// GetSession returns the session as it reads now.
//
// A record read before is served from memory while the file shows no commit
// since (readcache.go); otherwise it is read under the lock, in one
// transaction with the other session reads asked for meanwhile (readcache.go).
func (s *Store) GetSession(ctx context.Context, id string) (ports.Session, error) {
	if id == "" {
		return ports.Session{}, fmt.Errorf("bolt: get session: empty id: %w", ports.ErrInvalidArgument)
	}
	if !s.closed.Load() && ctx.Err() == nil {
		if rec, ok := s.sessions.get(s.path, id); ok {
			return sessionRecords.effective(rec, s.clock.Now()), nil
		}
	}
	got, err := s.sessionReads.Do(ctx, id)
	if err != nil {
		return ports.Session{}, err
	}
	if got.stamp.info != nil {
		s.sessions.put(id, got.stamp, got.rec)
	}
	return sessionRecords.effective(got.rec, s.clock.Now()), nil
}

// UpdateSession replaces the record when the stored Version equals in.Version.
func (s *Store) UpdateSession(ctx context.Context, in ports.Session) (ports.Session, error) {
	return sessionRecords.update(ctx, s, in)
}

// TouchSession adds n requests and moves LastAccessAt forward to at. It
// rewrites the stored record, so it never undoes a revoke made before it.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time, n int64) (ports.Session, error) {
	if id == "" {
		return ports.Session{}, fmt.Errorf("bolt: touch session: empty id: %w", ports.ErrInvalidArgument)
	}
	if n < 0 {
		return ports.Session{}, fmt.Errorf("bolt: touch session %q: negative count %d: %w", id, n, ports.ErrInvalidArgument)
	}
	at = at.UTC()
	return sessionRecords.change(ctx, s, "touch", id, func(rec ports.Session) (ports.Session, error) {
		rec.RequestCount += n
		if at.After(rec.LastAccessAt) {
			rec.LastAccessAt = at
		}
		rec.UpdatedAt = s.clock.Now().UTC()
		return rec, nil
	})
}

// ExpireLapsedSessions marks every active session whose lease ended at or
// before now as expired, in one transaction: under the file lock nothing can
// revoke in between, so each change is conditional on what it just read.
func (s *Store) ExpireLapsedSessions(ctx context.Context, now time.Time) (int, error) {
	return sessionRecords.expire(ctx, s, now)
}

// idsUnder returns the session ids of every index key under prefix.
func idsUnder(tx *bbolt.Tx, bucket, prefix []byte) ([]string, error) {
	var ids []string
	c := tx.Bucket(bucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) < len(prefix)+positionKeyLen {
			return nil, fmt.Errorf("bolt: malformed key in index %s: %w", bucket, ports.ErrCorrupt)
		}
		ids = append(ids, string(k[len(prefix)+positionKeyLen:]))
	}
	return ids, nil
}

// access is how an operation opens the file.
type access int

const (
	readOnly   access = iota // shared flock: other processes may read too
	readWrite                // exclusive flock; the file must exist
	createFile               // readWrite, creating a missing file: Open only
)

// update runs fn in one write transaction on a freshly opened file.
func (s *Store) update(ctx context.Context, fn func(*bbolt.Tx) error) error {
	return s.withDB(ctx, readWrite, func(db *bbolt.DB, _ *os.File) error {
		return db.Update(func(tx *bbolt.Tx) error {
			if err := s.checkLayout(tx); err != nil {
				return err
			}
			return fn(tx)
		})
	})
}

// view runs fn in one read transaction on a file opened read-only.
func (s *Store) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	return s.viewFile(ctx, func(tx *bbolt.Tx, _ *os.File) error { return fn(tx) })
}

// viewFile is view with the file bbolt opened, locked and mapped for it.
func (s *Store) viewFile(ctx context.Context, fn func(*bbolt.Tx, *os.File) error) error {
	return s.withDB(ctx, readOnly, func(db *bbolt.DB, f *os.File) error {
		return db.View(func(tx *bbolt.Tx) error {
			if err := s.checkLayout(tx); err != nil {
				return err
			}
			return fn(tx, f)
		})
	})
}

// checkLayout fails when a bucket is missing: the file was replaced or
// truncated since Open, and reading on would dereference a nil bucket.
func (s *Store) checkLayout(tx *bbolt.Tx) error {
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("bolt: the store file %s has no %s bucket; was it replaced since sentinel opened it? %w",
				s.path, name, ports.ErrCorrupt)
		}
	}
	return nil
}

// lockRetry is how often a lock held by another process is tried again.
// bbolt's own wait retries every 50 ms, too rarely to find the short gaps
// between a busy server's transactions; a failed try is only an open, a
// flock and a close.
const lockRetry = 2 * time.Millisecond

// withDB opens the file, runs fn with it (bbolt's DB, and the file bbolt
// holds) and closes it. The whole wait (for this process's other
// operations, then for other processes' flock) is bounded by the lock
// timeout and by ctx.
func (s *Store) withDB(ctx context.Context, mode access, fn func(*bbolt.DB, *os.File) error) error {
	if s.closed.Load() {
		return fmt.Errorf("bolt: the store on %s is closed: %w", s.path, ports.ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: the store file %s: %w", s.path, err)
	}
	lockCtx, cancel := context.WithTimeout(ctx, s.lockTimeout)
	defer cancel()
	if err := s.gate.lock(lockCtx); err != nil {
		return s.waitError(ctx)
	}
	defer s.gate.unlock()

	db, f, err := s.openDB(lockCtx, mode)
	if err != nil {
		if lockCtx.Err() != nil {
			return s.waitError(ctx)
		}
		return mapError(s.path, s.lockTimeout, err)
	}
	err = fn(db, f)
	if closeErr := db.Close(); err == nil {
		err = closeErr
	}
	return mapError(s.path, s.lockTimeout, err)
}

// openDB opens the file, trying the flock every lockRetry until lockCtx
// ends, and returns the file bbolt holds too.
func (s *Store) openDB(lockCtx context.Context, mode access) (*bbolt.DB, *os.File, error) {
	opts := &bbolt.Options{
		// The shortest wait bbolt allows: one try (zero would wait forever).
		Timeout:  time.Nanosecond,
		ReadOnly: mode == readOnly,
		NoSync:   s.noSync,
		// Growing the file fsyncs unless told not to; NoSync is for tests, which need neither.
		NoGrowSync: s.noSync,
	}
	var opened *os.File
	opts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		if mode == readWrite {
			// A file deleted since Open is an error, not a new empty store.
			flag &^= os.O_CREATE
		}
		f, err := os.OpenFile(name, flag, perm) //nolint:gosec // G304: the path is the user's own store setting
		opened = f
		return f, err
	}
	var retry *time.Ticker // made on the first busy try: most opens find the file free
	for {
		db, err := bbolt.Open(s.path, fileMode, opts)
		if !errors.Is(err, berrors.ErrTimeout) {
			return db, opened, err
		}
		if retry == nil {
			retry = time.NewTicker(lockRetry)
			defer retry.Stop()
		}
		select {
		case <-retry.C:
		case <-lockCtx.Done():
			return nil, nil, err
		}
	}
}

// waitError explains a wait that ended: the caller's context, or the lock.
func (s *Store) waitError(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: waiting for the store file %s: %w", s.path, err)
	}
	return &lockedError{path: s.path, waited: s.lockTimeout}
}
