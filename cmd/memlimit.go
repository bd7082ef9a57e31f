package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the part of the container's memory limit the Go runtime aims to stay
// under: the rest is for what GOMEMLIMIT does not count (the binary's mapped pages, C memory)
// and for the page cache, which the kernel also charges to the container.
const memoryLimitShare = 0.9

// cgroupMemoryFiles are where the container's memory limit is: cgroup v2, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// containerMemoryLimit reads the container's memory limit in bytes; false when there is none
// ("max", v1's "unlimited" near 2^63, or no cgroup files).
func containerMemoryLimit(read func(string) ([]byte, error)) (int64, bool) {
	for _, f := range cgroupMemoryFiles {
		b, err := read(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n >= 1<<62 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// setMemoryLimit gives the Go runtime a soft limit of memoryLimitShare of the container's
// memory limit, so that it collects harder as the cache grows towards the limit instead of
// being OOM-killed at a burst. GOMEMLIMIT, when set, wins. It returns the limit in force (0:
// none) and where it came from.
func setMemoryLimit(getenv func(string) string, read func(string) ([]byte, error)) (int64, string) {
	if getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	}
	limit, ok := containerMemoryLimit(read)
	if !ok {
		return 0, "none"
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	return soft, "container memory limit"
}

func defaultMemoryLimit() (int64, string) { return setMemoryLimit(os.Getenv, os.ReadFile) }
