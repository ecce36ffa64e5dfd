package benchtool

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Two dumps as the runtime prints them, with the process's own line inside the first.
const schedDumps = `SCHED 0ms: gomaxprocs=2 idleprocs=1 threads=4
  P0: status=1 schedtick=0 syscalltick=0 m=0 runqsize=0 gfreecnt=0 timerslen=0
  M0: p=0 curg=1 mallocing=0 throwing=0 preemptoff= locks=0 dying=0 spinning=false blocked=false lockedg=1
  G1: status=2(chan receive) m=0 lockedm=0
sentinel: serving profile "bench"
  G2: status=4(force gc (idle)) m=nil lockedm=nil
  G3: status=6() m=nil lockedm=nil
  G4: status=4100(select) m=nil lockedm=nil
  G5: status=0() m=nil lockedm=nil
SCHED 1000ms: gomaxprocs=2 idleprocs=2 threads=5
  G1: status=4(select) m=nil lockedm=nil
`

func TestGoroutineTraceCountsLiveGoroutinesOfCompleteDumps(t *testing.T) {
	var g GoroutineTrace
	var own []string
	sc := bufio.NewScanner(strings.NewReader(schedDumps))
	for sc.Scan() {
		if _, ok := g.Goroutines(); ok && strings.HasPrefix(sc.Text(), "SCHED 0ms") {
			t.Fatal("a count before any dump ended")
		}
		if !g.Line(sc.Text()) {
			own = append(own, sc.Text())
		}
	}
	// G1 running, G2 waiting, G4 waiting with the scan bit; G3 dead and G5 idle do not count.
	if n, ok := g.Goroutines(); !ok || n != 3 {
		t.Errorf("Goroutines() = %d, %t; want 3 from the first, complete dump", n, ok)
	}
	if len(own) != 1 || !strings.HasPrefix(own[0], "sentinel:") {
		t.Errorf("lines left to the process: %q", own)
	}
}

// The real runtime's output, from a child Go process that holds 20 extra goroutines.
func TestGoroutineTraceOnARealProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Go process")
	}
	if os.Getenv("BENCHTOOL_SLEEPERS") != "" {
		for range 20 {
			go time.Sleep(time.Hour)
		}
		time.Sleep(time.Hour)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run", "^TestGoroutineTraceOnARealProcess$")
	cmd.Env = append(os.Environ(), "BENCHTOOL_SLEEPERS=1", "GODEBUG=schedtrace=100,scheddetail=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var g GoroutineTrace
	sc := bufio.NewScanner(stderr)
	deadline := time.Now().Add(20 * time.Second)
	for sc.Scan() && time.Now().Before(deadline) {
		g.Line(sc.Text())
		// Wait for a dump taken after the sleepers started.
		if n, ok := g.Goroutines(); ok && n >= 20 {
			if n > 60 {
				t.Errorf("counted %d goroutines; the child holds 20 sleepers plus a few of its own and the runtime's", n)
			}
			return
		}
	}
	n, _ := g.Goroutines()
	t.Fatalf("never counted the 20 sleeping goroutines (last count %d)", n)
}
