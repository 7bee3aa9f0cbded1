package supervisor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// notifySocket receives sd_notify messages from a Type=notify main
// process.
type notifySocket struct {
	// path is the NOTIFY_SOCKET value: an abstract socket ("@...") of the
	// monitor, short enough for sun_path whatever the run directory is.
	path string
	conn *net.UnixConn
	// ready gets a value for every READY=1 received.
	ready chan struct{}
}

// listenNotify opens the monitor's notify socket, an abstract socket named
// after the monitor's PID.
func listenNotify() (*notifySocket, error) {
	path := "@berth-notify/" + strconv.Itoa(os.Getpid())
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	raw, err := conn.SyscallConn()
	if err == nil {
		cerr := raw.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
		})
		err = errors.Join(err, cerr)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	n := &notifySocket{path: path, conn: conn, ready: make(chan struct{}, 1)}
	go n.read()
	return n, nil
}

// read handles datagrams until the socket closes. The socket is abstract,
// so anyone in the network namespace can send to it: only messages from
// root count (the main process, berth-nspawn, runs as root).
func (n *notifySocket) read() {
	buf, oob := make([]byte, 4096), make([]byte, 256)
	for {
		k, oobn, _, _, err := n.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		if !fromRoot(oob[:oobn]) {
			continue
		}
		if parseNotify(string(buf[:k]))["READY"] == "1" {
			select {
			case n.ready <- struct{}{}:
			default: // one pending READY is enough
			}
		}
	}
}

func fromRoot(oob []byte) bool {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return false
	}
	for _, m := range msgs {
		if cred, err := unix.ParseUnixCredentials(&m); err == nil {
			return cred.Uid == 0
		}
	}
	return false
}

// arm forgets a READY=1 left over from an earlier run of the unit, before
// a new main process starts.
func (n *notifySocket) arm() {
	select {
	case <-n.ready:
	default:
	}
}

func (n *notifySocket) close() { _ = n.conn.Close() }

// parseNotify parses an sd_notify datagram: newline-separated
// "KEY=value" assignments.
func parseNotify(msg string) map[string]string {
	kv := map[string]string{}
	for _, line := range strings.Split(msg, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = v
		}
	}
	return kv
}
