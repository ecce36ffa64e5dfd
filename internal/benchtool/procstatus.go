package benchtool

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ProcStatus is what a soak watches of a live process, read from outside
// through /proc/<pid>/status and /proc/<pid>/fd.
type ProcStatus struct {
	// RSS is VmRSS, the resident set now, in bytes.
	RSS uint64
	// PeakRSS is VmHWM, the highest resident set so far, in bytes.
	PeakRSS uint64
	// Threads is the number of OS threads.
	Threads int
	// FDs is the number of open file descriptors; -1 when not read.
	FDs int
}

// ParseProcStatus reads VmRSS, VmHWM and Threads from the text of /proc/<pid>/status.
func ParseProcStatus(r io.Reader) (ProcStatus, error) {
	st := ProcStatus{FDs: -1}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM" && name != "Threads") {
			continue
		}
		fields := strings.Fields(rest)
		bad := fmt.Errorf("unexpected %s line %q", name, sc.Text())
		if len(fields) == 0 {
			return st, bad
		}
		n, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return st, bad
		}
		if name == "Threads" {
			st.Threads = int(n)
		} else {
			if len(fields) != 2 || fields[1] != "kB" {
				return st, bad
			}
			if name == "VmRSS" {
				st.RSS = n << 10
			} else {
				st.PeakRSS = n << 10
			}
		}
		seen[name] = true
	}
	if err := sc.Err(); err != nil {
		return st, err
	}
	for _, name := range []string{"VmRSS", "VmHWM", "Threads"} {
		if !seen[name] {
			return st, fmt.Errorf("no %s line", name)
		}
	}
	return st, nil
}

// ReadProcStatus reads the status and open file count of a live process.
func ReadProcStatus(pid int) (ProcStatus, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcStatus{FDs: -1}, err
	}
	defer func() { _ = f.Close() }()
	st, err := ParseProcStatus(f)
	if err != nil {
		return st, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		st.FDs = len(fds)
	}
	return st, nil
}
