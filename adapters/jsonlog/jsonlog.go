// Package jsonlog implements ports.DecisionLog as JSON Lines: one decision
// per line, appended.
package jsonlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/sentinel-gw/sentinel/ports"
)

var _ ports.DecisionLog = (*Log)(nil)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Log writes decision records, one JSON object per line. It is safe for
// concurrent use.
type Log struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer // nil when the caller owns w
	closed bool
}

// Open appends to the file at path, creating it with mode 0600 and any
// missing parent directories with mode 0700. An existing file keeps its mode.
func Open(path string) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("jsonlog: create directory: %w", err)
	}
	// O_APPEND makes every write land at the end, so each line stays whole
	// even when another process appends to the same file.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("jsonlog: open: %w", err)
	}
	return &Log{w: f, closer: f}, nil
}

// New writes to w. Close does not close w.
func New(w io.Writer) *Log {
	return &Log{w: w}
}

// Record writes r as one line with a single Write call.
func (l *Log) Record(_ context.Context, r ports.DecisionRecord) error {
	bp := bufPool.Get().(*[]byte)
	line := append(appendRecord((*bp)[:0], r), '\n')
	defer func() { *bp = line; bufPool.Put(bp) }()

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("jsonlog: record: %w", os.ErrClosed)
	}
	n, err := l.w.Write(line)
	if err != nil {
		return fmt.Errorf("jsonlog: write: %w", err)
	}
	if n != len(line) {
		return fmt.Errorf("jsonlog: write: %w", io.ErrShortWrite)
	}
	return nil
}

// Close closes the file opened by Open. Further Records fail.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.closer == nil {
		return nil
	}
	if err := l.closer.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("jsonlog: close: %w", err)
	}
	return nil
}
