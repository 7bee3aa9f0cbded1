package supervisor

import (
	"bytes"
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
// after boot) from /proc/PID/stat. It reads the file into a stack buffer
// with plain system calls (open, read, close): berthd checks its
// monitors' identity at every unit transition, and os.ReadFile takes
// two more calls and two heap buffers each time.
func procStat(pid int) (byte, uint64, error) {
	var buf [1024]byte
	var path kernel.Path
	path.Add("/proc/").AddUint(uint64(pid)).Add("/stat")
	fd, err := kernel.OpenPath(&path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Close(fd)
	n, err := kernel.RetryInt("read", func() (int, error) { return unix.Read(fd, buf[:]) })
	if err != nil {
		return 0, 0, err
	}
	// The kernel returns the line (a few hundred bytes) in one read;
	// parseStat refuses one cut short.
	state, start, ok := parseStat(buf[:n])
	if !ok {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return state, start, nil
}

// parseStat returns the state letter (field 3) and start time (field 22)
// of a /proc/PID/stat line, which must be whole (end in a newline).
func parseStat(b []byte) (byte, uint64, bool) {
	// The command name may hold anything; fields resume after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || b[len(b)-1] != '\n' {
		return 0, 0, false
	}
	rest := b[i+1:]
	var state byte
	for field := 3; field <= 22; field++ {
		var f []byte
		if f, rest = nextField(rest); len(f) == 0 {
			return 0, 0, false
		}
		switch field {
		case 3:
			state = f[0]
		case 22:
			if start, ok := parseDecimal(f); ok {
				return state, start, true
			}
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// nextField splits the first space-separated field off b.
func nextField(b []byte) (field, rest []byte) {
	b = bytes.TrimLeft(b, " \n")
	end := bytes.IndexAny(b, " \n")
	if end < 0 {
		end = len(b)
	}
	return b[:end], b[end:]
}

// parseDecimal parses an unsigned decimal number without overflow.
func parseDecimal(b []byte) (uint64, bool) {
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' || n > (1<<64-1-9)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, len(b) > 0
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
