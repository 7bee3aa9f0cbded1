package spawn

import (
	"errors"
	"fmt"
	"os"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// The stage itself is C (stage.c, stage_mounts.c): it runs from a
// constructor before the Go runtime starts, so a container start pays for
// the spawner's Go runtime only. This file is the spawner's side of the
// sync socket.

// encodePlan encodes the stage's configuration and checks it with the
// stage's own decoder.
func encodePlan(p *stagePlan) ([]byte, error) {
	b, err := p.encode()
	if err != nil {
		return nil, err
	}
	if err := checkStage(b); err != nil {
		return nil, err
	}
	return b, nil
}

// sendMsg sends data as one message, with fds attached. sock is the
// spawner's end of the sync socket, non-blocking: a goroutine waiting on
// it is parked in the runtime's poller, not blocked in a system call on a
// thread of its own.
func sendMsg(sock *os.File, data []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	return onSocket(sock, false, "sendmsg", func(fd int) error {
		return unix.Sendmsg(fd, data, oob, nil, 0)
	})
}

// recvMsg receives one message and the descriptors passed with it
// (close-on-exec). It returns no data at the end of the stream. The
// message is measured first (MSG_PEEK|MSG_TRUNC) so only its size is
// allocated.
func recvMsg(sock *os.File) ([]byte, []int, error) {
	var peek [1]byte
	var size int
	err := onSocket(sock, true, "recvmsg", func(fd int) (err error) {
		size, _, _, _, err = unix.Recvmsg(fd, peek[:], nil, unix.MSG_PEEK|unix.MSG_TRUNC)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	buf := make([]byte, min(max(size, 1), stageMaxMsg))
	oob := make([]byte, unix.CmsgSpace(4*4))
	var n, oobn int
	err = onSocket(sock, true, "recvmsg", func(fd int) (err error) {
		n, oobn, _, _, err = unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
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

// onSocket runs op on the descriptor of the non-blocking socket sock,
// again each time the socket becomes readable (read) or writable, until
// it no longer fails with EAGAIN or EINTR. Its error is named op.
func onSocket(sock *os.File, read bool, op string, fn func(fd int) error) error {
	rc, err := sock.SyscallConn()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	var opErr error
	try := func(fd uintptr) bool {
		opErr = kernel.Retry(op, func() error { return fn(int(fd)) })
		return !errors.Is(opErr, unix.EAGAIN)
	}
	if read {
		err = rc.Read(try)
	} else {
		err = rc.Write(try)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return opErr
}

// stageReply is one message from the stage: its error, or the console
// master and notify socket it passes.
type stageReply struct {
	err            error
	console, notif *os.File
}

// parseReply interprets a message of the stage; fds not taken are closed.
func parseReply(data []byte, fds []int) stageReply {
	var r stageReply
	switch {
	case len(data) >= 1 && data[0] == msgError:
		r.err = errors.New(string(data[1:]))
	case len(data) == 2 && data[0] == msgFDs:
		if data[1]&fdsConsole != 0 && len(fds) > 0 {
			r.console, fds = os.NewFile(uintptr(fds[0]), "console"), fds[1:]
		}
		if data[1]&fdsNotify != 0 && len(fds) > 0 {
			r.notif, fds = os.NewFile(uintptr(fds[0]), "notify"), fds[1:]
		}
	default:
		r.err = fmt.Errorf("container setup: unexpected message %q from the stage", data)
	}
	closeAll(fds)
	return r
}
