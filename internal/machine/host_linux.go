//go:build linux

package machine

import (
	"bytes"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
)

// hostMachine describes the host as machined's .host: class host, leader
// 1, the host's machine id, root /, unit -.slice, timestamp of boot.
func hostMachine() Machine {
	m := Machine{
		Spec:  Spec{Name: HostName, Class: ClassHost, Leader: 1, RootDirectory: "/"},
		Unit:  "-.slice",
		State: StateRunning,
	}
	if data, err := readBounded("/etc/machine-id", 64); err == nil {
		if id, err := hex.DecodeString(string(bytes.TrimSpace(data))); err == nil && len(id) == 16 {
			m.ID = id
		}
	}
	m.Timestamp = bootTime()
	return m
}

// bootTime returns the boot time from /proc/stat btime, in µs.
func bootTime() uint64 {
	data, err := readBounded("/proc/stat", 1<<20)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n * 1_000_000
		}
	}
	return 0
}

func osGetpid() int { return os.Getpid() }
