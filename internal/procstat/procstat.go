// Package procstat reads what Linux says of a process in /proc, for tests
// that measure a process from outside.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RSS is the resident memory of process pid, in bytes: VmRSS in
// /proc/PID/status.
func RSS(pid int) (int64, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	status, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if kb, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(kb, "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: VmRSS: %w", path, err)
			}
			return n << 10, nil
		}
	}
	return 0, fmt.Errorf("%s: no VmRSS", path)
}
