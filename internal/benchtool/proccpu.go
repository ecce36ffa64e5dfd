package benchtool

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: the kernel ABI
// fixes USER_HZ at 100 whatever the kernel's own tick rate.
const userHZ = 100

// ParseProcCPU returns utime+stime, the CPU time a process has used, from
// the text of /proc/<pid>/stat. The command name (field 2) may hold spaces
// and parentheses, so fields are counted from its last ')'.
func ParseProcCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat %q", stat)
	}
	// After ")": field 3 (state) is rest[0]; utime and stime are fields 14 and 15.
	rest := strings.Fields(stat[i+1:])
	if len(rest) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat %q: too few fields", stat)
	}
	var ticks uint64
	for _, f := range rest[11:13] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected /proc stat %q: %w", stat, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / userHZ), nil
}
