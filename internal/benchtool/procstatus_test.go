package benchtool

import (
	"os"
	"strings"
	"testing"
)

func TestParseProcStatus(t *testing.T) {
	const full = "Name:\tsentinel\nVmHWM:\t   30720 kB\nVmRSS:\t   20480 kB\nThreads:\t9\n"
	tests := []struct {
		name    string
		text    string
		want    ProcStatus
		wantErr bool
	}{
		{"all three", full, ProcStatus{RSS: 20 << 20, PeakRSS: 30 << 20, Threads: 9, FDs: -1}, false},
		{"no Threads", "VmHWM:\t1 kB\nVmRSS:\t1 kB\n", ProcStatus{}, true},
		{"no VmRSS (a zombie)", "VmHWM:\t1 kB\nThreads:\t1\n", ProcStatus{}, true},
		{"unit not kB", "VmHWM:\t1 MB\nVmRSS:\t1 kB\nThreads:\t1\n", ProcStatus{}, true},
		{"not a number", "VmHWM:\tx kB\nVmRSS:\t1 kB\nThreads:\t1\n", ProcStatus{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProcStatus(strings.NewReader(tc.text))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("accepted %q: %+v", tc.text, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseProcStatus = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// This test process itself: resident, at least one thread, open files.
func TestReadProcStatusOfSelf(t *testing.T) {
	got, err := ReadProcStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if got.RSS == 0 || got.PeakRSS < got.RSS || got.Threads < 1 || got.FDs < 3 {
		t.Errorf("own status %+v: want RSS > 0, peak >= RSS, threads >= 1, at least stdin/out/err open", got)
	}
}
