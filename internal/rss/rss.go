// Package rss reads this process's peak resident set size, for benchmarks that report memory
// as the kernel sees it (heap statistics miss what the runtime keeps, cgo and the stacks).
package rss

import (
	"os"
	"strconv"
	"strings"
)

// ResetPeak resets the kernel's high-water mark (VmHWM) of this process, so that the next
// PeakMB covers only what follows. It does nothing where /proc is missing.
func ResetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// PeakMB returns VmHWM from /proc/self/status in MB (2^20 bytes), or 0 where /proc is missing.
func PeakMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
