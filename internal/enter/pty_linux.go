//go:build linux

package enter

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// Session is a program running on a pty.
type Session struct {
	// Master is the pty master; the session's owner reads and writes it.
	Master *os.File
	// PTYPath is the slave's path (on the host's devpts).
	PTYPath string
	done    chan struct{}
}

// Wait blocks until the program has exited.
func (s *Session) Wait() { <-s.done }

// Start runs r inside ns (nil: on the host) on a new pty, using the
// nsenter program at nsenter.
func Start(nsenter string, ns *Namespaces, r Request) (*Session, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("enter: %w", err)
	}
	master, slave, path, err := openPTY()
	if err != nil {
		return nil, fmt.Errorf("enter: %w", err)
	}
	defer slave.Close()
	cmd := command(nsenter, ns, r)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	if err := cmd.Start(); err != nil {
		master.Close()
		return nil, fmt.Errorf("enter: start: %w", err)
	}
	s := &Session{Master: master, PTYPath: path, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	return s, nil
}

func command(nsenter string, ns *Namespaces, r Request) *exec.Cmd {
	var cmd *exec.Cmd
	if ns == nil {
		cmd = exec.Command(r.Argv[0], r.Argv[1:]...)
		cmd.Dir = r.Dir
		if cmd.Dir == "" {
			cmd.Dir = "/"
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: r.UID, Gid: r.GID}}
	} else {
		args, extra := nsenterArgs(ns, r)
		cmd = exec.Command(nsenter, args...)
		cmd.ExtraFiles = extra
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.Env = r.Env
	return cmd
}

// openPTY opens a pty pair; the slave comes from TIOCGPTPEER, never from
// a path lookup.
func openPTY() (master, slave *os.File, path string, err error) {
	fd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, nil, "", err
	}
	master = os.NewFile(uintptr(fd), "ptmx")
	if err = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err == nil {
		var n int
		if n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN); err == nil {
			path = "/dev/pts/" + strconv.Itoa(n)
			var sfd int
			sfd, err = kernel.RetryInt("ioctl TIOCGPTPEER", func() (int, error) {
				r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
				if e != 0 {
					return -1, e
				}
				return int(r), nil
			})
			slave = os.NewFile(uintptr(sfd), path)
		}
	}
	if err != nil {
		master.Close()
		return nil, nil, "", fmt.Errorf("open pty: %w", err)
	}
	return master, slave, path, nil
}

// CloseAfter closes the session's master once the program has exited and
// grace has passed, so the master can still be handed over the bus.
func (s *Session) CloseAfter(grace time.Duration) {
	go func() {
		s.Wait()
		time.Sleep(grace)
		s.Master.Close()
	}()
}

// OpenPTYIn allocates a pty in the devpts instance of the machine whose
// root is root (its /dev/ptmx, resolved inside the root, must be the
// ptmx character device) and returns the master and the slave's path as
// the machine sees it.
func OpenPTYIn(root *os.File) (*os.File, string, error) {
	how := unix.OpenHow{
		Flags:   unix.O_RDWR | unix.O_NOCTTY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := kernel.Openat2(int(root.Fd()), "/dev/ptmx", &how)
	if err != nil {
		return nil, "", fmt.Errorf("open machine pty: %w", err)
	}
	master := os.NewFile(uintptr(fd), "ptmx")
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR ||
		unix.Major(st.Rdev) != 5 || unix.Minor(st.Rdev) != 2 {
		master.Close()
		return nil, "", fmt.Errorf("open machine pty: /dev/ptmx is not the pty multiplexer: %w", ErrInvalid)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, "", fmt.Errorf("open machine pty: unlock: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, "", fmt.Errorf("open machine pty: %w", err)
	}
	return master, "/dev/pts/" + strconv.Itoa(n), nil
}
