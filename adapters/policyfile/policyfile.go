// Package policyfile loads a policy from disk and reloads it when the file
// changes, behind a validation gate: an edit that does not parse is refused
// and the last valid policy stays in force.
package policyfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
)

// ErrUnsafePermissions: anyone on the machine could rewrite the rules.
var ErrUnsafePermissions = errors.New("policy file is writable by others")

// maxPolicyBytes bounds what we read, so a wrong path (a device, a huge file) fails fast.
const maxPolicyBytes = 4 << 20

// Load reads, checks and parses the policy at path once.
func Load(path string) (*policy.Policy, error) {
	data, _, err := read(path)
	if err != nil {
		return nil, err
	}
	return parse(path, data)
}

// Source serves the current policy and reloads it when the file's identity
// (size, mtime and mode everywhere; inode and ctime where the OS gives them,
// see sysStamp) changes. A parse happens only on change.
//
// Until Watch runs, every Current stats the file (about a microsecond), so
// an edit takes effect on the very next call. Once Watch runs, Current reads
// memory only and the watcher reloads on file events and on a periodic stat.
//
// The gate: a file that exists and is safe but does not parse is refused;
// the last valid policy stays in force and observers get a Reload with Err
// set. A file that is missing, unreadable, unsafe (writable by others) or
// not a regular file fails closed instead: Current returns the error until
// the file is fixed. See docs/policy-reference.md for why.
type Source struct {
	path     string
	watching atomic.Bool
	state    atomic.Pointer[state]
	checks   atomic.Int64 // stats of the file, for tests

	// mu serialises reload attempts and observer calls, so observers see
	// attempts in order.
	mu        sync.Mutex
	observers []func(Reload)
}

// state is what Current serves.
type state struct {
	stamp  stamp
	policy *policy.Policy // nil when failing closed
	err    error          // why it fails closed
}

type stamp struct {
	ino, size    uint64
	mtime, ctime time.Time
	mode         fs.FileMode // a chmod fixing unsafe permissions is a change
}

// Reload is one load attempt, as observers see it.
type Reload struct {
	Path string
	// Loaded is the version of the policy this attempt loaded; empty when it failed.
	Loaded string
	// InForce is the version that decides requests after this attempt;
	// empty when none does and every request is refused (fail closed).
	InForce string
	// Err says why the attempt failed; nil when it loaded a policy.
	Err error
}

// NewSource loads the policy now; an invalid policy is an error at startup.
func NewSource(path string) (*Source, error) {
	s := &Source{path: path}
	st, err := statFile(path)
	if err != nil {
		return nil, err
	}
	next, _ := s.load(st)
	if next.err != nil {
		return nil, next.err
	}
	s.state.Store(&next)
	return s, nil
}

// Path is the file the source reads.
func (s *Source) Path() string { return s.path }

// Current returns the policy in force now, or the error that makes every
// request fail closed (the file is gone, unreadable or unsafe).
func (s *Source) Current() (*policy.Policy, error) {
	if !s.watching.Load() {
		s.check()
	}
	st := s.state.Load()
	return st.policy, st.err
}

// Subscribe calls fn after every reload attempt, in order, from the
// goroutine that made it (the watcher, or a Current caller before Watch
// runs). It calls fn once now with the state in force, so an observer
// starts from what decides requests. fn must return quickly and must not
// call the Source.
func (s *Source) Subscribe(fn func(Reload)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observers = append(s.observers, fn)
	st := s.state.Load()
	r := Reload{Path: s.path, Err: st.err}
	if st.policy != nil {
		r.Loaded, r.InForce = st.policy.Hash, st.policy.Hash
	}
	fn(r)
}

// check stats the file and reloads it when it changed.
func (s *Source) check() {
	s.checks.Add(1)
	st, statErr := statFile(s.path)
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.state.Load()
	if statErr != nil {
		if prev.policy == nil && prev.err != nil && prev.err.Error() == statErr.Error() {
			return // still the same failure: already reported
		}
		s.state.Store(&state{err: statErr})
		s.notify(Reload{Path: s.path, Err: statErr})
		return
	}
	if st == prev.stamp && (prev.policy != nil || prev.err != nil) {
		return
	}
	next, r := s.load(st)
	if next.err != nil && !isReadError(next.err) && prev.policy != nil {
		// The gate: a file that does not parse leaves the last valid policy in force.
		next = state{stamp: next.stamp, policy: prev.policy}
		r.InForce = prev.policy.Hash
	}
	s.state.Store(&next)
	s.notify(r)
}

// load reads and parses the file; the returned state fails closed on any
// error, and check decides whether the gate keeps the previous policy.
func (s *Source) load(st stamp) (state, Reload) {
	data, st2, err := read(s.path)
	if err != nil {
		return state{stamp: st, err: readError{err}}, Reload{Path: s.path, Err: err}
	}
	p, err := parse(s.path, data)
	if err != nil {
		return state{stamp: st2, err: err}, Reload{Path: s.path, Err: err}
	}
	return state{stamp: st2, policy: p}, Reload{Path: s.path, Loaded: p.Hash, InForce: p.Hash}
}

func (s *Source) notify(r Reload) {
	for _, fn := range s.observers {
		fn(r)
	}
}

// readError marks a failure to read the file (as opposed to parse it).
type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }
func (e readError) Unwrap() error { return e.err }

func isReadError(err error) bool {
	var r readError
	return errors.As(err, &r)
}

func read(path string) ([]byte, stamp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, stamp{}, openError(path, err)
	}
	defer func() { _ = f.Close() }() // read-only
	fi, err := f.Stat()
	if err != nil {
		return nil, stamp{}, fmt.Errorf("policy %s: %w", path, err)
	}
	if err := checkMode(path, fi); err != nil {
		return nil, stamp{}, err
	}
	buf, err := io.ReadAll(io.LimitReader(f, maxPolicyBytes+1))
	if err != nil {
		return nil, stamp{}, fmt.Errorf("policy %s: %w", path, err)
	}
	if len(buf) > maxPolicyBytes {
		return nil, stamp{}, fmt.Errorf("policy %s: larger than %d bytes; is this the right file?", path, maxPolicyBytes)
	}
	return buf, stampOf(fi), nil
}

func statFile(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, openError(path, err)
	}
	return stampOf(fi), nil
}

func stampOf(fi fs.FileInfo) stamp {
	st := stamp{size: uint64(fi.Size()), mtime: fi.ModTime(), mode: fi.Mode()}
	st.ino, st.ctime = sysStamp(fi)
	return st
}

func checkMode(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("policy %s: not a regular file", path)
	}
	if othersMayWrite(fi) {
		return fmt.Errorf("policy %s (mode %#o): %w, so anyone on this machine could rewrite the rules; run: chmod o-w %s",
			path, fi.Mode().Perm(), ErrUnsafePermissions, path)
	}
	return nil
}

func openError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("policy file %s does not exist: create it (see docs/policy-reference.md), or pass --policy / SENTINEL_POLICY", path)
	}
	return fmt.Errorf("policy %s: %w", path, err)
}

func parse(path string, data []byte) (*policy.Policy, error) {
	p, err := policy.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}
