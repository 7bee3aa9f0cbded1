package spawn

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// watchNotify reads sd_notify datagrams from the guest's socket and calls
// ready once for the first READY=1. It returns when the socket is closed.
func watchNotify(sock *os.File, ready func()) {
	buf := make([]byte, 4096)
	done := false
	for {
		n, err := sock.Read(buf)
		if err != nil {
			return
		}
		if !done && hasReady(string(buf[:n])) {
			done = true
			ready()
		}
	}
}

// hasReady reports whether an sd_notify message contains READY=1.
func hasReady(msg string) bool {
	for _, line := range strings.Split(msg, "\n") {
		if line == "READY=1" {
			return true
		}
	}
	return false
}

// notifyManager sends state to the spawner's own service manager, named by
// $NOTIFY_SOCKET (a path, or an abstract name starting with "@"). Without
// one it does nothing.
func notifyManager(getenv func(string) string, state string) {
	addr := getenv("NOTIFY_SOCKET")
	if addr == "" || (addr[0] != '/' && addr[0] != '@') {
		return
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if addr[0] == '@' {
		addr = "\x00" + addr[1:]
	}
	_ = unix.Sendto(fd, []byte(state), 0, &unix.SockaddrUnix{Name: addr})
}
