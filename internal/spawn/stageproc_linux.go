package spawn

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/berth-dev/berth/internal/containercgroup"
	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/berth-dev/berth/internal/privusers"
	"golang.org/x/sys/unix"
)

// stage is the running stage process, PID 1 of the container (the payload
// or the stub init once it executed): its PID, a pidfd that signals it
// without a PID reuse race, and the spawner's end of the sync socket.
type stage struct {
	pid   int
	pidfd int
	// pidf owns pidfd, non-blocking and in the runtime's poller: wait
	// parks on it instead of blocking a thread in wait4.
	pidf *os.File
	sync *os.File
	// root is the root for a stage that joinsRoot, until it is sent
	// with the configuration (-1: none).
	root int
	// execd, for a stage cloned sharing the spawner's memory (see
	// cloneStage), waits until its process executed the stage binary or
	// failed before, frees what the clone needed and returns the
	// failure; nil once called, and for a stage started by ForkExec,
	// which waits for the execution itself.
	execd func() error
}

// joinsRoot reports whether the stage of sc is started early, in the
// spawner's mount namespace, and enters the root once it is built (see
// mountNS.startStage): with a user namespace, the stage's mount namespace
// must be created in it, and the sysfs of --network-namespace-path must
// be mounted from inside that namespace.
func joinsRoot(sc *stageConfig) bool {
	return sc.users == nil && sc.Config.Network.NamespacePath == ""
}

// privateBase reports whether the spawner's mount namespace thread needs a
// private namespace of its own between starts: a raw image stays attached
// there, and a stage that does not join the root (a user namespace, or
// --network-namespace-path: see joinsRoot) is started on the tree built
// there.
func privateBase(c *nspawnopts.Config) bool {
	return c.Image != "" || c.PrivateUsers.Mode != privusers.ModeNo || c.Network.NamespacePath != ""
}

// signal sends sig to the stage.
func (s *stage) signal(sig unix.Signal) { _ = unix.PidfdSendSignal(s.pidfd, sig, nil, 0) }

// kill ends a stage that failed to start and reaps it.
func (s *stage) kill() {
	s.signal(unix.SIGKILL)
	s.wait()
}

// wait reaps the stage and returns how it ended.
func (s *stage) wait() syscall.WaitStatus {
	s.awaitExit()
	var ws unix.WaitStatus
	_, _ = kernel.RetryInt("wait4", func() (int, error) { return unix.Wait4(s.pid, &ws, 0, nil) })
	return syscall.WaitStatus(ws)
}

// awaitExit returns once the stage has ended (its pidfd is readable),
// parked in the runtime's poller meanwhile. On an error it returns at
// once, and wait4 does the waiting.
func (s *stage) awaitExit() {
	rc, err := s.pidf.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Read(func(fd uintptr) bool {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := kernel.RetryInt("poll", func() (int, error) { return unix.Poll(p, 0) })
		return err != nil || n > 0
	})
}

// executed waits until the stage's process executed the stage binary and
// returns why it did not, if it failed before (once; nil afterwards). The
// spawner calls it where it relies on the stage having run: at the end of
// the stage's messages, and when a step of the start failed, which the
// stage's own failure then explains.
func (s *stage) executed() error {
	if s.execd == nil {
		return nil
	}
	err := s.execd()
	s.execd = nil
	return err
}

// close releases the sync socket, the pidfd and the root (and the
// clone's memory once the stage ended).
func (s *stage) close() {
	_ = s.executed()
	s.sync.Close()
	s.pidf.Close()
	closeAll(s.takeRoot())
}

// takeRoot hands over the descriptors to send with the configuration: the
// root for a stage that joinsRoot, none otherwise. The caller closes them.
func (s *stage) takeRoot() []int {
	if s.root < 0 {
		return nil
	}
	fds := []int{s.root}
	s.root = -1
	return fds
}

// startStage starts the second stage in its new namespaces (the user
// namespace among them, owning the others, when the machine has one),
// cloned into the cgroup cg if there is one. It runs on the thread of the
// spawner's mount namespace, working in the container's root; that
// thread's end kills the stage (its parent-death signal). The stage is
// started with syscall.ForkExec: os.StartProcess would first clone a
// throw-away child to check pidfd support, at every start.
func startStage(sc *stageConfig, o Options, cg *containercgroup.Group) (*stage, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	// The spawner's end is non-blocking, so os.NewFile puts it in the
	// runtime's poller (see sendMsg); the stage's stays blocking.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		closeAll(fds[:])
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync")
	defer child.Close()
	st, err := forkStage(sc, o, cg, child)
	if err != nil {
		parent.Close()
		return nil, fmt.Errorf("start container: %w", err)
	}
	st.sync = parent
	return st, nil
}

// forkStage executes the stage with sync as its syncFD.
func forkStage(sc *stageConfig, o Options, cg *containercgroup.Group, sync *os.File) (*stage, error) {
	c := &sc.Config
	flags := uintptr(unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC)
	if !joinsRoot(sc) {
		flags |= unix.CLONE_NEWNS
	}
	if c.PrivateNetwork && c.Network.NamespacePath == "" {
		flags |= unix.CLONE_NEWNET
	}
	pidfd := -1
	attr := &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: unix.SIGKILL, PidFD: &pidfd}
	if m := sc.users.mappings(); len(m) > 0 {
		userNSAttr(attr, m)
	}
	cgfd, err := openCgroup(cg)
	if err != nil {
		return nil, err
	}
	if cgfd >= 0 {
		defer unix.Close(cgfd)
		attr.UseCgroupFD, attr.CgroupFD = true, cgfd
	}
	fds, opened, err := stageFiles(c, o, sync)
	if err != nil {
		return nil, err
	}
	defer closeFiles(opened)
	if m := sc.users.mappings(); len(m) > 0 {
		var st *stage
		err := withStartSlack(func() (err error) {
			st, err = cloneStage(flags, m, cgfd, fds)
			return err
		})
		if !errors.Is(err, errNoClone) {
			return st, err
		}
	}
	var pid int
	err = withStartSlack(func() (err error) {
		pid, err = syscall.ForkExec("/proc/self/exe", []string{"berth-nspawn", stageArg},
			&syscall.ProcAttr{Env: []string{}, Files: fds, Sys: attr})
		return err
	})
	if err != nil {
		return nil, err
	}
	return newStage(pid, pidfd), nil
}

// newStage returns the stage of process pid, owning its pidfd.
func newStage(pid, pidfd int) *stage {
	// Non-blocking, so os.NewFile puts it in the runtime's poller (see
	// awaitExit); pidfd_send_signal does not care.
	_ = unix.SetNonblock(pidfd, true)
	return &stage{pid: pid, pidfd: pidfd, pidf: os.NewFile(uintptr(pidfd), "pidfd"), root: -1}
}

// withStartSlack runs fn, which starts a process from the calling thread
// (locked to it), with the timer slack berth-nspawn was started with, so
// the process inherits that one and not the spawner's coarse one.
func withStartSlack(fn func() error) error {
	orig := startSlack()
	if orig == 0 {
		return fn()
	}
	coarse, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return fmt.Errorf("timer slack: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, orig, 0, 0, 0); err != nil {
		return fmt.Errorf("timer slack: %w", err)
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(coarse), 0, 0, 0)
	return fn()
}

// stageFiles are the stage's descriptors from 0 on: fds 0-2 (the
// spawner's own in pipe mode, /dev/null otherwise: the stage puts the
// console there), the sync socket (syncFD), and for -a a sealed copy of
// the binary for the stub init (stubFD), so that no process of the
// container can reach the host's binary through /proc/PID/exe
// (CVE-2019-5736). opened are the files it opened, for the caller to close
// once the stage runs.
func stageFiles(c *nspawnopts.Config, o Options, sync *os.File) (fds []uintptr, opened []*os.File, err error) {
	if c.Console == nspawnopts.ConsolePipe {
		fds = []uintptr{o.Stdin.Fd(), o.Stdout.Fd(), o.Stderr.Fd()}
	} else {
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return nil, nil, err
		}
		opened = append(opened, null)
		fds = []uintptr{null.Fd(), null.Fd(), null.Fd()}
	}
	fds = append(fds, sync.Fd())
	if c.AsPID2 {
		fd, err := sealedSelf()
		if err != nil {
			closeFiles(opened)
			return nil, nil, err
		}
		stub := os.NewFile(uintptr(fd), "berth-nspawn-stub")
		opened = append(opened, stub)
		fds = append(fds, stub.Fd())
	}
	if len(fds) != syncFD+1 && len(fds) != stubFD+1 {
		panic("spawn: the stage's descriptors are not syncFD and stubFD")
	}
	return fds, opened, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
