package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// procStat returns a process's state letter and start time (clock ticks
// after boot) from /proc/PID/stat.
func procStat(pid int) (byte, uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name may hold anything; fields resume after its last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, err
}

// alive reports whether pid runs and is the process that started at
// start, not a zombie and not a later process reusing the PID.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	state, s, err := procStat(pid)
	return err == nil && s == start && state != 'Z' && state != 'X'
}

// waitGone waits until the process pid (started at start) has exited, or
// until timeout passes, and reports whether it is gone. It uses a pidfd,
// which works for processes that are not our children (an adopted
// monitor).
func waitGone(pid int, start uint64, timeout time.Duration) bool {
	fd, err := kernel.RetryInt("pidfd_open", func() (int, error) { return unix.PidfdOpen(pid, 0) })
	if err != nil {
		return !alive(pid, start)
	}
	defer unix.Close(fd)
	if !alive(pid, start) { // the PID may have been reused before the open
		return true
	}
	deadline := time.Now().Add(timeout)
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			return !alive(pid, start)
		}
		n, err := kernel.RetryInt("poll", func() (int, error) {
			return unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		})
		if err != nil {
			return !alive(pid, start)
		}
		if n > 0 {
			return true
		}
	}
}

// reap collects the exit status of cmd's process once it has exited.
// It waits on a pidfd in the runtime's poller, where the waiting goroutine
// holds no OS thread; Wait alone would block in waitid, holding one for
// as long as the process runs (a monitor runs as long as its unit).
func reap(cmd *exec.Cmd) {
	fd, err := kernel.RetryInt("pidfd_open", func() (int, error) {
		return unix.PidfdOpen(cmd.Process.Pid, unix.PIDFD_NONBLOCK)
	})
	if err != nil {
		go func() { _ = cmd.Wait() }()
		return
	}
	pidfd := os.NewFile(uintptr(fd), "pidfd")
	go func() {
		if rc, err := pidfd.SyscallConn(); err == nil {
			_ = rc.Read(func(fd uintptr) bool { return exited(int(fd)) })
		}
		pidfd.Close()
		_ = cmd.Wait()
	}()
}

// exited reports whether the process of a pidfd has exited: its pidfd
// then polls readable. An error counts as exited, leaving Wait to wait.
func exited(pidfd int) bool {
	n, err := kernel.RetryInt("poll", func() (int, error) {
		return unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 0)
	})
	return err != nil || n > 0
}

// process is a pidfd: signals sent through it never reach a later
// process that reuses the PID (PIDs wrap quickly: pid_max is often 32768).
type process struct{ fd int }

// openProcess opens pid's pidfd and then checks that it is the process
// that started at start, so the handle cannot name a successor.
func openProcess(pid int, start uint64) (*process, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("open process: %w", unix.ESRCH)
	}
	fd, err := kernel.RetryInt("pidfd_open", func() (int, error) { return unix.PidfdOpen(pid, 0) })
	if err != nil {
		return nil, err
	}
	if !alive(pid, start) {
		unix.Close(fd)
		return nil, fmt.Errorf("open process %d: %w", pid, unix.ESRCH)
	}
	return &process{fd: fd}, nil
}

// signal sends sig to the process.
func (p *process) signal(sig unix.Signal) error {
	return kernel.Retry("pidfd_send_signal", func() error { return unix.PidfdSendSignal(p.fd, sig, nil, 0) })
}

func (p *process) close() { unix.Close(p.fd) }

// signalProcess sends sig to pid if it is still the process that started
// at start.
func signalProcess(pid int, start uint64, sig unix.Signal) error {
	p, err := openProcess(pid, start)
	if err != nil {
		return err
	}
	defer p.close()
	return p.signal(sig)
}

// leaderDepth returns how many PID namespaces below ours pid is the init
// of (its innermost namespace PID is 1), or 0 when it is no namespace's
// init. A machine's leader is the shallowest; deeper ones are the inits
// of containers the guest runs itself.
func leaderDepth(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			if f := strings.Fields(rest); len(f) > 1 && f[len(f)-1] == "1" {
				return len(f) - 1
			}
			return 0
		}
	}
	return 0
}

var errNoLeader = errors.New("no leader process")
