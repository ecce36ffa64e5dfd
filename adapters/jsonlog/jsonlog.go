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
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

var _ ports.DecisionLog = (*Log)(nil)

// DefaultFlushInterval is how long a recorded line may wait in memory before
// it is written: what a crash (kill -9, power loss) can lose at most.
const DefaultFlushInterval = 10 * time.Millisecond

// Buffer bounds: past flushSoon the timer fires at once (the Write happens
// off the request path); past maxBuffered, when Writes cannot keep up,
// Record writes the buffer itself, so memory stays bounded.
const (
	flushSoon   = 64 << 10
	maxBuffered = 1 << 20
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Log writes decision records, one JSON object per line. It is safe for
// concurrent use.
//
// Writes are buffered: Record appends its line to memory and returns; the
// buffer goes out in one Write at most FlushInterval later (as soon as it
// holds 64 KiB), and on Flush and Close. So a clean exit loses nothing,
// and a crash loses at most the lines of the last interval. Every Write
// holds whole lines, in the order they were recorded, so O_APPEND keeps
// them intact when processes share a file. A failed Write is reported by
// the next Record (and by Flush and Close).
type Log struct {
	interval time.Duration
	w        io.Writer
	closer   io.Closer // nil when the caller owns w

	// writeMu is held across a Write, taken before mu: buffers go out in
	// the order they were filled.
	writeMu sync.Mutex

	mu      sync.Mutex
	buf     []byte
	spare   []byte      // the last written buffer, for reuse
	timer   *time.Timer // armed while buf holds lines
	pending bool        // the timer is armed
	err     error       // the last failed Write, not yet reported
	closed  bool
}

// Options tunes a Log.
type Options struct {
	// FlushInterval bounds how long a line waits in memory; zero is
	// DefaultFlushInterval, negative writes every line before Record
	// returns (one Write per Record).
	FlushInterval time.Duration
}

func newLog(w io.Writer, closer io.Closer, o Options) *Log {
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	l := &Log{w: w, closer: closer, interval: o.FlushInterval}
	if l.interval > 0 {
		l.timer = time.AfterFunc(time.Hour, func() { _ = l.flush(true) })
		l.timer.Stop()
	}
	return l
}

// Open appends to the file at path, creating it with mode 0600 and any
// missing parent directories with mode 0700. An existing file keeps its mode.
func Open(path string, opts ...Options) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("jsonlog: create directory: %w", err)
	}
	// O_APPEND makes every write land at the end, so each line stays whole
	// even when another process appends to the same file.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("jsonlog: open: %w", err)
	}
	return newLog(f, f, first(opts)), nil
}

// New writes to w. Close flushes but does not close w.
func New(w io.Writer, opts ...Options) *Log {
	return newLog(w, nil, first(opts))
}

func first(opts []Options) Options {
	if len(opts) > 0 {
		return opts[0]
	}
	return Options{}
}

// Record buffers r as one line. It fails if the Log is closed or a previous
// Write failed (that error is reported once).
func (l *Log) Record(_ context.Context, r ports.DecisionRecord) error {
	bp := bufPool.Get().(*[]byte)
	line := append(appendRecord((*bp)[:0], r), '\n')

	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		*bp = line
		bufPool.Put(bp)
		return fmt.Errorf("jsonlog: record: %w", os.ErrClosed)
	}
	l.buf = append(l.buf, line...)
	*bp = line
	bufPool.Put(bp)
	err := l.err
	l.err = nil
	now := l.interval < 0 || len(l.buf) >= maxBuffered
	switch {
	case now:
	case len(l.buf) >= flushSoon:
		l.pending = true
		l.timer.Reset(0)
	case !l.pending:
		l.pending = true
		l.timer.Reset(l.interval)
	}
	l.mu.Unlock()
	if now {
		if ferr := l.Flush(); ferr != nil && err == nil {
			err = ferr
		}
	}
	return err
}

// Flush writes every buffered line now, in one Write, and returns any
// Write error not yet reported.
func (l *Log) Flush() error { return l.flush(false) }

// flush writes the buffer. keep is for the timer, which nobody waits on:
// its error is kept, under writeMu, for the next Record or Flush to report.
func (l *Log) flush(keep bool) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	l.mu.Lock()
	b := l.buf
	l.buf, l.spare = l.spare[:0], nil
	if l.pending {
		l.pending = false
		l.timer.Stop()
	}
	l.mu.Unlock()

	var err error
	if len(b) > 0 {
		var n int
		n, err = l.w.Write(b)
		if err == nil && n != len(b) {
			err = io.ErrShortWrite
		}
		if err != nil {
			err = fmt.Errorf("jsonlog: write: %w", err)
		}
	}
	l.mu.Lock()
	l.spare = b[:0]
	switch {
	case keep && err != nil:
		l.err = err
	case keep:
	case err == nil:
		err, l.err = l.err, nil
	default:
		l.err = nil
	}
	l.mu.Unlock()
	return err
}

// Close writes what is buffered and closes the file opened by Open.
// Further Records fail.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	err := l.Flush()
	if l.closer == nil {
		return err
	}
	if cerr := l.closer.Close(); cerr != nil && !errors.Is(cerr, os.ErrClosed) && err == nil {
		err = fmt.Errorf("jsonlog: close: %w", cerr)
	}
	return err
}
