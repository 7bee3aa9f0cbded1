package sysdbackend

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuParticipants name the cgroups (below /sys/fs/cgroup of the test
// host) whose CPU time a timed start is charged with: the machine
// manager, the machine's unit (spawner and guest), systemd itself and the
// bus. Each side fills in its own manager and machine unit.
type cpuParticipants struct {
	manager, machine string
}

// cpuRoles are the roles reported, in order.
var cpuRoles = []string{"manager", "machine", "systemd", "bus"}

// groups returns the cgroup of each role.
func (p cpuParticipants) groups() []string {
	return []string{
		"system.slice/" + p.manager, "machine.slice/" + p.machine, "init.scope", "system.slice/dbus.service",
	}
}

// cgroupCPU returns a cgroup's usage_usec, 0 if it does not exist (a
// machine unit before its start).
func cgroupCPU(group string) time.Duration {
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", group, "cpu.stat"))
	if err != nil {
		return 0
	}
	var usec int64
	if _, err := fmt.Sscanf(string(b), "usage_usec %d", &usec); err != nil {
		return 0
	}
	return time.Duration(usec) * time.Microsecond
}

// sample reads every role's CPU time.
func (p cpuParticipants) sample() []time.Duration {
	out := make([]time.Duration, len(cpuRoles))
	for i, g := range p.groups() {
		out[i] = cgroupCPU(g)
	}
	return out
}

// managerSwitches returns the context switches, voluntary or not, of
// every thread of the manager's processes: each is a thread that went to
// sleep or was preempted, so a thread woken for nothing counts here even
// when its CPU time is lost in the noise.
func (p cpuParticipants) managerSwitches() int {
	procs, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/system.slice", p.manager, "cgroup.procs"))
	if err != nil {
		return 0
	}
	n := 0
	for _, pid := range strings.Fields(string(procs)) {
		tasks, _ := os.ReadDir(filepath.Join("/proc", pid, "task"))
		for _, task := range tasks {
			n += threadSwitches(filepath.Join("/proc", pid, "task", task.Name(), "status"))
		}
	}
	return n
}

// threadSwitches returns the context switches a thread's status file
// counts.
func threadSwitches(status string) int {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
			c, _ := strconv.Atoi(strings.TrimSpace(v))
			n += c
		}
	}
	return n
}

// cpuTimes collects, per role, the CPU time of each timed start.
type cpuTimes [][]time.Duration

// add records the difference between two samples.
func (c *cpuTimes) add(before, after []time.Duration) {
	if *c == nil {
		*c = make(cpuTimes, len(cpuRoles))
	}
	for i := range cpuRoles {
		(*c)[i] = append((*c)[i], after[i]-before[i])
	}
}

// String gives each role's median in ms.
func (c cpuTimes) String() string {
	var parts []string
	for i, role := range cpuRoles {
		if i < len(c) {
			parts = append(parts, fmt.Sprintf("%s=%.1f", role, ms(median(c[i]))))
		}
	}
	return strings.Join(parts, " ")
}
