package benchtool

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestParseProcCPU(t *testing.T) {
	// A command name with a space and a parenthesis, utime 1234 and stime 66 ticks.
	const stat = "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 66 0 0 20 0 9 0 100 1000000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
	got, err := ParseProcCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 13 * time.Second; got != want {
		t.Errorf("ParseProcCPU = %s, want %s (1300 ticks at 100 Hz)", got, want)
	}
	for _, bad := range []string{"", "4242 (cmd S 1", "4242 (cmd) S 1 2 3", "4242 (cmd) S 1 2 3 4 5 6 7 8 9 10 x 66"} {
		if _, err := ParseProcCPU(bad); err == nil {
			t.Errorf("ParseProcCPU(%q) accepted", bad)
		}
	}
}

// This process's own /proc stat parses, and spinning shows up in it.
func TestParseProcCPUSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/<pid>/stat is Linux's")
	}
	read := func() time.Duration {
		data, err := os.ReadFile("/proc/self/stat")
		if err != nil {
			t.Fatal(err)
		}
		d, err := ParseProcCPU(string(data))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	before := read()
	for deadline := time.Now().Add(10 * time.Second); read()-before < 20*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatal("10 s of spinning never showed 20 ms of CPU")
		}
		for i := 0; i < 1e6; i++ {
			_ = i * i
		}
	}
}
