package benchtool

import (
	"strconv"
	"strings"
	"sync"
)

// GoroutineTrace counts a Go process's goroutines from outside, without a
// hook in it: run it with GODEBUG=schedtrace=MS,scheddetail=1 and feed every
// line of its stderr to Line. Each dump begins "SCHED <ms>ms:" and lists every
// goroutine ever allocated as "  G<id>: status=<n>(...)"; the live ones are
// those whose status is neither idle (0) nor dead (6). The count includes the
// runtime's own goroutines, which is fine for spotting growth.
type GoroutineTrace struct {
	mu sync.Mutex
	// current is the dump being read; complete is the last finished one.
	current, complete int
	inDump, haveDump  bool
}

// Line consumes one output line and reports whether it belonged to a dump.
// A dump counts as complete when the next one begins, so a line the process
// itself writes in the middle of a dump cannot cut the count short.
func (g *GoroutineTrace) Line(line string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if strings.HasPrefix(line, "SCHED ") {
		if g.inDump {
			g.complete, g.haveDump = g.current, true
		}
		g.inDump, g.current = true, 0
		return true
	}
	rest, ok := strings.CutPrefix(line, "  ")
	if !g.inDump || !ok || len(rest) < 2 || !strings.ContainsRune("PMG", rune(rest[0])) || rest[1] < '0' || rest[1] > '9' {
		return false
	}
	if rest[0] == 'G' {
		if status, ok := goroutineStatus(rest); ok && status != gIdle && status != gDead {
			g.current++
		}
	}
	return true
}

// The runtime's goroutine states that are not a goroutine in use (runtime/runtime2.go).
const (
	gIdle     = 0
	gDead     = 6
	gScanFlag = 0x1000
)

// goroutineStatus reads n from "G12: status=4(chan receive) m=nil ...".
func goroutineStatus(line string) (int, bool) {
	_, after, ok := strings.Cut(line, "status=")
	if !ok {
		return 0, false
	}
	end := strings.IndexFunc(after, func(r rune) bool { return r < '0' || r > '9' })
	if end <= 0 {
		return 0, false
	}
	n, err := strconv.Atoi(after[:end])
	if err != nil {
		return 0, false
	}
	return n &^ gScanFlag, true
}

// Goroutines is the live goroutine count of the last complete dump; ok is
// false until one dump has been read whole.
func (g *GoroutineTrace) Goroutines() (n int, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.complete, g.haveDump
}
