package ctl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/dbuswire"
)

// quickStart runs `berthctl start NAME...` without the command tree and
// without a general bus connection, when the command line is exactly that
// and the bus address is a plain unix socket: it sends the authentication,
// Hello and the first StartMachine call in one write and reads the
// answers, as sd-bus clients do, instead of waiting for each step of the
// handshake in turn. Every other command line, and other addresses, take
// the general path; ok is false then. The output is the general path's.
func quickStart(args []string, errOut io.Writer) (code int, ok bool) {
	if len(args) < 2 || args[0] != "start" {
		return 0, false
	}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") {
			return 0, false
		}
	}
	addr, ok := unixAddress(os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"))
	if !ok {
		return 0, false
	}
	if err := startQuick(addr, args[1:]); err != nil {
		fmt.Fprintln(errOut, "berthctl:", describe(err))
		return 1, true
	}
	return 0, true
}

// unixAddress returns the socket of a bus address that names one unix
// socket by path or abstract name ("" is the system bus's default).
func unixAddress(addr string) (*net.UnixAddr, bool) {
	if addr == "" {
		addr = dbuswire.DefaultSystemBus
	}
	if strings.Contains(addr, ";") {
		return nil, false
	}
	name, err := dbuswire.UnixSocket(addr)
	if err != nil {
		return nil, false
	}
	return &net.UnixAddr{Name: name, Net: "unix"}, true
}

// startQuick starts each machine in turn, stopping at the first error.
func startQuick(addr *net.UnixAddr, machines []string) error {
	conn, err := net.DialUnix("unix", nil, addr)
	if err != nil {
		return fmt.Errorf("connect to the system bus: %w", err)
	}
	defer conn.Close()
	out := dbuswire.AppendAuth(nil, os.Geteuid())
	out, err = methodCall(out, 1, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello")
	if err != nil {
		return err
	}
	in := bufio.NewReader(conn)
	for i, name := range machines {
		serial := uint32(i + 2)
		if out, err = methodCall(out, serial, busName, string(managerPath), berthManagerIface, "StartMachine", name); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		if _, err := conn.Write(out); err != nil {
			return fmt.Errorf("connect to the system bus: %w", err)
		}
		out = out[:0]
		if i == 0 {
			if err := dbuswire.ReadAuthOK(in); err != nil {
				return fmt.Errorf("connect to the system bus: %w", err)
			}
		}
		if err := readReply(in, serial); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
	}
	return nil
}

// maxReply bounds the size of a message read: the replies and signals
// the quick path sees are a few hundred bytes.
const maxReply = 1 << 20

// readReply reads messages until the reply to serial: nil for a method
// return, a dbus.Error for an error. Others (the Hello reply, the
// NameAcquired signal) are skipped.
func readReply(in io.Reader, serial uint32) error {
	for {
		b, err := dbuswire.ReadMessage(in, maxReply)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the bus hung up
			}
			return err
		}
		m, err := dbuswire.Parse(b)
		if err != nil {
			return err
		}
		if (m.Type != dbuswire.TypeReturn && m.Type != dbuswire.TypeError) || m.ReplySerial != serial {
			continue
		}
		if m.Type == dbuswire.TypeReturn {
			return nil
		}
		return callError(&m)
	}
}

// callError is the dbus.Error of an error reply, as the general path
// returns it, with the message of its body.
func callError(m *dbuswire.Message) error {
	e := dbus.Error{Name: m.ErrorName}
	if strings.HasPrefix(m.Signature, "s") {
		d := m.Args()
		if msg := d.Str(); d.Err() == nil {
			e.Body = []any{msg}
		}
	}
	return e
}

// methodCall appends a D-Bus method call with string arguments to b.
func methodCall(b []byte, serial uint32, dest, path, iface, member string, args ...string) ([]byte, error) {
	var body dbuswire.Encoder
	for _, a := range args {
		body.Str(a)
	}
	if err := body.Err(); err != nil {
		return b, err
	}
	h := dbuswire.Header{Type: dbuswire.TypeCall, Serial: serial, Path: path, Interface: iface, Member: member,
		Destination: dest, Signature: strings.Repeat("s", len(args))}
	b, err := dbuswire.AppendHeader(b, &h, len(body.Buf))
	if err != nil {
		return b, err
	}
	return append(b, body.Buf...), nil
}
