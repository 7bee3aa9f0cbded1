package spawn

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/berth-dev/berth/internal/rootfs"
	"golang.org/x/sys/unix"
)

// maxMsg bounds one message on the sync socket.
const maxMsg = 1 << 20

// StageMain is the second stage, run as PID 1 of the new PID namespace
// (as root of the container's user namespace, if it has one) when the
// binary is started with StageArg, in the container's root that the
// spawner prepared. It returns the exit status for a failure before the
// payload was executed (the payload replaces the process otherwise).
func StageMain() int {
	runtime.LockOSThread() // namespaces, capabilities and execve are per thread
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	sync := os.NewFile(syncFD, "sync")
	var sc stageConfig
	if err := recvJSON(sync, &sc); err != nil {
		fmt.Fprintf(os.Stderr, "berth-nspawn stage: %v\n", err)
		return 1
	}
	err := runStage(&sc, sync)
	_ = sendJSON(sync, stageMsg{Kind: msgError, Error: err.Error()}, nil)
	return 1
}

// runStage finishes the container and runs the payload; it only returns
// with an error.
func runStage(sc *stageConfig, sync *os.File) error {
	c := &sc.Config
	if sc.Cgroup {
		if err := kernel.Retry("unshare", func() error { return unix.Unshare(unix.CLONE_NEWCGROUP) }); err != nil {
			return fmt.Errorf("cgroup namespace: %w", err)
		}
	}
	if err := kernel.Retry("sethostname", func() error { return unix.Sethostname([]byte(c.Hostname)) }); err != nil {
		return fmt.Errorf("set hostname: %w", err)
	}
	root, err := rootfs.Finish(rootSpec(sc))
	if err != nil {
		return err
	}
	if err := root.Pivot(); err != nil {
		return err
	}
	console, err := handOver(c, sync)
	if err != nil {
		return err
	}
	if err := awaitGo(sync); err != nil {
		return err
	}
	return startPayload(sc, console, sync)
}

// awaitGo waits until the spawner has set up the host side (network,
// registration) and lets the payload start.
func awaitGo(sync *os.File) error {
	var m string
	if err := recvJSON(sync, &m); err != nil {
		return fmt.Errorf("wait for the spawner: %w", err)
	}
	if m != goMsg {
		return fmt.Errorf("wait for the spawner: unexpected message %q", m)
	}
	return nil
}

// rootSpec turns the configuration into the rootfs specification (the
// user namespace part is the spawner's, see users.trees).
func rootSpec(sc *stageConfig) *rootfs.Spec {
	c := &sc.Config
	return &rootfs.Spec{
		Dir: c.Directory, ReadOnly: c.ReadOnly, Volatile: c.Volatile, Ephemeral: c.Ephemeral,
		PivotRoot: c.PivotRoot.New, PivotOld: c.PivotRoot.Old,
		Binds: c.Binds, TmpFS: c.TmpFS, Overlays: c.Overlays, Inaccessible: c.Inaccessible,
		Cgroup: sc.Cgroup, WritableCgroup: c.Boot, Host: sc.Host,
		ResolvConf: c.ResolvConf, Timezone: c.Timezone, PrivateNetwork: c.PrivateNetwork,
		JoinedNetNS: c.Network.NamespacePath != "",
		LinkJournal: c.LinkJournal, MachineID: stripDashes(sc.UUID),
	}
}

// handOver creates the console pty and the notify socket, seals /run/host
// and passes the pty master and the socket to the spawner. It returns the
// payload's side of the console (nil in pipe mode).
func handOver(c *nspawnopts.Config, sync *os.File) (*os.File, error) {
	var master, peer *os.File
	var fds []int
	if c.Console != nspawnopts.ConsolePipe {
		var err error
		if master, peer, err = rootfs.OpenConsole(); err != nil {
			return nil, err
		}
		defer master.Close()
		fds = append(fds, int(master.Fd()))
	}
	notify, err := listenNotify()
	if err != nil {
		return nil, err
	}
	defer unix.Close(notify)
	fds = append(fds, notify)
	if err := rootfs.SealRunHost(); err != nil {
		return nil, err
	}
	msg := stageMsg{Kind: msgFDs, Console: master != nil, Notify: true}
	if err := sendJSON(sync, msg, fds); err != nil {
		return nil, err
	}
	return peer, nil
}

// listenNotify creates the guest's sd_notify socket at NotifySocket.
func listenNotify() (int, error) {
	fd, err := kernel.RetryInt("socket", func() (int, error) {
		return unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	})
	if err != nil {
		return -1, fmt.Errorf("notify socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: NotifySocket}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind %s: %w", NotifySocket, err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	return fd, nil
}

// sendJSON sends v as one message, with fds attached.
func sendJSON(sock *os.File, v any, fds []int) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	return kernel.Retry("sendmsg", func() error {
		return unix.Sendmsg(int(sock.Fd()), data, oob, nil, 0)
	})
}

// recvJSON receives one message into v; fds are not expected.
func recvJSON(sock *os.File, v any) error {
	data, _, err := recvMsg(sock)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return errors.New("sync socket closed")
	}
	return json.Unmarshal(data, v)
}

// recvMsg receives one message and the descriptors passed with it
// (close-on-exec). It returns no data at the end of the stream. The
// message is measured first (MSG_PEEK|MSG_TRUNC) so only its size is
// allocated.
func recvMsg(sock *os.File) ([]byte, []int, error) {
	var peek [1]byte
	size, err := kernel.RetryInt("recvmsg", func() (int, error) {
		n, _, _, _, err := unix.Recvmsg(int(sock.Fd()), peek[:], nil, unix.MSG_PEEK|unix.MSG_TRUNC)
		return n, err
	})
	if err != nil {
		return nil, nil, err
	}
	buf := make([]byte, min(max(size, 1), maxMsg))
	oob := make([]byte, unix.CmsgSpace(4*4))
	var n, oobn int
	err = kernel.Retry("recvmsg", func() error {
		var err error
		n, oobn, _, _, err = unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	var fds []int
	if oobn > 0 {
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, nil, err
		}
		for _, m := range cmsgs {
			if rights, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, rights...)
			}
		}
	}
	return buf[:n], fds, nil
}
