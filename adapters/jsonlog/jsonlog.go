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
//
// Writes are group-committed: a Record returns only after its line went out
// in a Write call (so nothing a request was told is lost to a kill -9), but
// lines recorded while a Write is under way go out together in the next
// one. Every Write holds whole lines, so O_APPEND keeps them intact.
type Log struct {
	mu      sync.Mutex
	flushed *sync.Cond // signalled after each Write
	w       io.Writer
	closer  io.Closer // nil when the caller owns w
	closed  bool

	next    *batch // lines waiting for the next Write
	spare   []byte // the buffer of the last written batch, for reuse
	writing bool   // a Record is writing a batch
}

// batch is the lines that go out in one Write, and how that Write went.
type batch struct {
	buf  []byte
	done bool
	err  error
}

func newLog(w io.Writer, closer io.Closer) *Log {
	l := &Log{w: w, closer: closer, next: &batch{}}
	l.flushed = sync.NewCond(&l.mu)
	return l
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
	return newLog(f, f), nil
}

// New writes to w. Close does not close w.
func New(w io.Writer) *Log {
	return newLog(w, nil)
}

// Record writes r as one line and returns once that line has been written.
func (l *Log) Record(_ context.Context, r ports.DecisionRecord) error {
	bp := bufPool.Get().(*[]byte)
	line := append(appendRecord((*bp)[:0], r), '\n')

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		*bp = line
		bufPool.Put(bp)
		return fmt.Errorf("jsonlog: record: %w", os.ErrClosed)
	}
	mine := l.next
	mine.buf = append(mine.buf, line...)
	*bp = line
	bufPool.Put(bp)
	for !mine.done {
		if l.writing {
			l.flushed.Wait()
			continue
		}
		l.flush()
	}
	return mine.err
}

// flush writes every pending line in one Write, without holding the lock
// during the call. Callers hold l.mu.
func (l *Log) flush() {
	b := l.next
	l.next = &batch{buf: l.spare[:0]}
	l.spare = nil
	l.writing = true
	l.mu.Unlock()
	n, err := l.w.Write(b.buf)
	if err == nil && n != len(b.buf) {
		err = io.ErrShortWrite
	}
	l.mu.Lock()
	l.writing = false
	b.done = true
	if err != nil {
		b.err = fmt.Errorf("jsonlog: write: %w", err)
	}
	l.spare, b.buf = b.buf[:0], nil
	l.flushed.Broadcast()
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
