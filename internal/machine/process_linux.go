//go:build linux

package machine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// pidfsMagic is the file system magic of pidfds on kernels with pidfs
// (6.9+), where a pidfd's inode number identifies the process for the
// boot.
const pidfsMagic = 0x50494446

// Identity tells one process apart from a later one with the same PID.
type Identity struct {
	// PidfdID is the pidfs inode number of the process (0 where the kernel
	// has no pidfs).
	PidfdID uint64
	// StartTime is field 22 of /proc/PID/stat, in clock ticks since boot.
	StartTime uint64
}

// Process is a process held by a pidfd. Its methods may run concurrently
// with Close: the pidfd is used only under mu's read lock, so its number
// can never be closed and reused under a signal. The pidfd is a plain
// file descriptor (no Go poller registration, no goroutine): the
// registry's watcher waits for all leaders in one epoll set.
type Process struct {
	PID uint32
	ID  Identity

	mu sync.RWMutex
	// fd is the pidfd, -1 after Close; guarded by mu.
	fd int
}

// OpenProcess opens a pidfd for pid and records its identity. It fails
// with ErrInvalid if the process does not exist.
func OpenProcess(pid uint32) (*Process, error) {
	p := &Process{}
	if err := p.open(pid); err != nil {
		return nil, err
	}
	return p, nil
}

// open is OpenProcess into p, a Process never opened before (the
// registry keeps its leaders' Process in the machine's entry). p is
// closed (its fd -1) when open fails.
func (p *Process) open(pid uint32) error {
	p.PID, p.fd = pid, -1
	fd, err := kernel.RetryInt("pidfd_open", func() (int, error) {
		return unix.PidfdOpen(int(pid), unix.PIDFD_NONBLOCK)
	})
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("process %d does not exist: %w", pid, ErrInvalid)
	}
	if err != nil {
		return fmt.Errorf("open process %d: %w", pid, err)
	}
	unix.CloseOnExec(fd)
	p.fd = fd
	if p.ID, err = p.identity(); err != nil {
		p.Close()
		return err
	}
	return nil
}

// withFD runs fn with the pidfd held open; EBADF after Close.
func (p *Process) withFD(fn func(fd int) error) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.fd < 0 {
		return unix.EBADF
	}
	return fn(p.fd)
}

// identity reads the pidfs id and start time, then checks the pidfd still
// refers to a live process, so the start time read through /proc is that
// process's.
func (p *Process) identity() (Identity, error) {
	var id Identity
	_ = p.withFD(func(fd int) error {
		var fs unix.Statfs_t
		var st unix.Stat_t
		if unix.Fstatfs(fd, &fs) == nil && fs.Type == pidfsMagic && unix.Fstat(fd, &st) == nil {
			id.PidfdID = st.Ino
		}
		return nil
	})
	start, err := startTime(p.PID)
	if err != nil {
		return id, fmt.Errorf("process %d: %w", p.PID, ErrInvalid)
	}
	id.StartTime = start
	if !p.Alive() {
		return id, fmt.Errorf("process %d exited: %w", p.PID, ErrInvalid)
	}
	return id, nil
}

// startTime returns field 22 of /proc/pid/stat.
func startTime(pid uint32) (uint64, error) {
	var buf [1024]byte
	var path kernel.Path
	data, err := readProc(path.Add("/proc/").AddUint(uint64(pid)).Add("/stat"), buf[:])
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	// Fields 3, 4, ... follow the command's ')'; field 22 is the 20th.
	f, ok := statField(data[i+1:], 20)
	if !ok {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	var n uint64
	for _, c := range f {
		if c < '0' || c > '9' || n > (1<<64-1-9)/10 {
			return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
		}
		n = n*10 + uint64(c-'0')
	}
	return n, nil
}

// statField returns the k-th (from 1) field of b, fields being separated
// by runs of spaces (and a trailing newline).
func statField(b []byte, k int) ([]byte, bool) {
	for len(b) > 0 {
		b = bytes.TrimLeft(b, " \n")
		end := bytes.IndexAny(b, " \n")
		if end < 0 {
			end = len(b)
		}
		if end > 0 {
			if k--; k == 0 {
				return b[:end], true
			}
		}
		b = b[end:]
	}
	return nil, false
}

// Alive reports whether the process has not exited.
func (p *Process) Alive() bool { return p.Signal(0) == nil }

// Signal sends sig to the process through its pidfd: never to a process
// that reuses its PID.
func (p *Process) Signal(sig unix.Signal) error {
	err := p.withFD(func(fd int) error {
		return kernel.Retry("pidfd_send_signal", func() error { return unix.PidfdSendSignal(fd, sig, nil, 0) })
	})
	if errors.Is(err, unix.EBADF) {
		return fmt.Errorf("signal process %d: closed: %w", p.PID, err)
	}
	return err
}

// Close releases the pidfd; it also leaves the watcher's epoll set.
func (p *Process) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fd >= 0 {
		_ = unix.Close(p.fd)
		p.fd = -1
	}
}

// nsInode returns the inode of the process's namespace of the given kind
// ("pid", "net", "mnt", ...), checked against PID reuse.
func (p *Process) nsInode(kind string) (uint64, error) {
	var path kernel.Path
	ino, err := kernel.InodeOf(path.Add("/proc/").AddUint(uint64(p.PID)).Add("/ns/").Add(kind))
	if err != nil {
		return 0, err
	}
	if !p.Alive() {
		return 0, fmt.Errorf("process %d exited: %w", p.PID, unix.ESRCH)
	}
	return ino, nil
}

// openProc opens /proc/PID/name of the process with flags and checks that
// the process was still alive afterwards, so the file is the process's own.
func (p *Process) openProc(name string, flags int) (*os.File, error) {
	path := "/proc/" + strconv.Itoa(int(p.PID)) + "/" + name
	fd, err := kernel.RetryInt("open", func() (int, error) { return unix.Open(path, flags|unix.O_CLOEXEC, 0) })
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	if !p.Alive() {
		f.Close()
		return nil, fmt.Errorf("process %d exited: %w", p.PID, unix.ESRCH)
	}
	return f, nil
}

// selfNSInode returns the inode of the daemon's own namespace of a kind.
func selfNSInode(kind string) (uint64, error) {
	var st unix.Stat_t
	err := kernel.Retry("stat", func() error { return unix.Stat("/proc/self/ns/"+kind, &st) })
	return st.Ino, err
}

// pidNSMembers lists the PIDs (in our namespace) whose PID namespace has
// inode ns.
func pidNSMembers(ns uint64) []uint32 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []uint32
	for _, e := range ents {
		pid, err := strconv.ParseUint(e.Name(), 10, 32)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/ns/pid", &st) == nil && st.Ino == ns {
			out = append(out, uint32(pid))
		}
	}
	return out
}
