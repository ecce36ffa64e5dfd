// Package policyfile loads a policy from disk and reloads it when the file
// changes, so an edit takes effect on the very next request.
package policyfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
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

// Source serves the current policy, re-reading the file when its identity
// (size and mtime everywhere; inode and ctime where the OS gives them, see
// sysStamp) changes. A stat per request costs about a
// microsecond; a parse happens only on change.
type Source struct {
	path string

	mu     sync.RWMutex
	stamp  stamp
	policy *policy.Policy
	err    error
}

type stamp struct {
	ino, size    uint64
	mtime, ctime time.Time
}

// NewSource loads the policy now; an invalid policy is an error at startup.
func NewSource(path string) (*Source, error) {
	s := &Source{path: path}
	if _, err := s.Current(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path is the file the source reads.
func (s *Source) Path() string { return s.path }

// Current returns the policy in force now. When the file is gone, unsafe or
// invalid, it returns the error (the caller fails closed) and keeps trying on
// later calls.
func (s *Source) Current() (*policy.Policy, error) {
	st, err := statFile(s.path)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	if st == s.stamp && (s.policy != nil || s.err != nil) {
		p, perr := s.policy, s.err
		s.mu.RUnlock()
		return p, perr
	}
	s.mu.RUnlock()

	data, st2, err := read(s.path)
	var p *policy.Policy
	if err == nil {
		p, err = parse(s.path, data)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stamp, s.policy, s.err = st2, p, err
	if err != nil {
		s.policy = nil
	}
	return s.policy, s.err
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
	st := stamp{size: uint64(fi.Size()), mtime: fi.ModTime()}
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
