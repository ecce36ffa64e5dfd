package bolt

import (
	"context"
	"path/filepath"
	"sync"
)

// gate lets one operation of this process at a time use the file. Readers
// too: overlapping shared flocks from several goroutines can keep the file
// locked without a break, and a revoke from another process, which can only
// poll for the lock, would then never get in (measured: a 4-goroutine read
// loop starved it past 2 s). One at a time leaves a gap after every
// operation. It also makes this process's goroutines queue here rather than
// poll the flock.
type gate chan struct{}

func newGate() gate { return make(gate, 1) }

// lock takes the gate or fails with ctx.Err().
func (g gate) lock(ctx context.Context) error {
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g gate) unlock() { <-g }

// gates holds one gate per store file of this process, so two Store values
// on the same file (a server and an in-process revoke) share it.
var gates = struct {
	mu     sync.Mutex
	byPath map[string]gate
}{byPath: make(map[string]gate)}

// gateFor returns the process-wide gate of the file at the absolute path.
// A file reached through two different paths gets two gates; the flock
// still keeps it correct.
func gateFor(absPath string) gate {
	absPath = filepath.Clean(absPath)
	gates.mu.Lock()
	defer gates.mu.Unlock()
	g, ok := gates.byPath[absPath]
	if !ok {
		g = newGate()
		gates.byPath[absPath] = g
	}
	return g
}
