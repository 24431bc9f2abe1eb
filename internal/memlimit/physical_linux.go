package memlimit

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// physical returns the memory this process may use, in bytes: the
// machine's RAM, or the container's limit (cgroup v2 or v1) when lower; 0
// when unknown.
func physical() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0
	}
	ram := int64(si.Totalram) * int64(si.Unit)
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if lim, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && lim > 0 && lim < ram {
			return lim
		}
	}
	return ram
}
