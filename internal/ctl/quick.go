package ctl

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"
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

// defaultSystemBus is the system bus address without
// DBUS_SYSTEM_BUS_ADDRESS (the D-Bus specification's default).
const defaultSystemBus = "unix:path=/var/run/dbus/system_bus_socket"

// unixAddress returns the socket of a bus address that names one unix
// socket by path or abstract name ("" is the system bus's default).
func unixAddress(addr string) (*net.UnixAddr, bool) {
	if addr == "" {
		addr = defaultSystemBus
	}
	rest, ok := strings.CutPrefix(addr, "unix:")
	if !ok || strings.Contains(rest, ";") {
		return nil, false
	}
	var name string
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "path":
			name = v
		case "abstract":
			name = "@" + v
		case "guid":
		default:
			return nil, false
		}
	}
	if name == "" || name == "@" || strings.Contains(name, "%") { // escaped bytes: the general path
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
	hello := methodCall(1, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello")
	auth := "\x00AUTH EXTERNAL " + hex.EncodeToString([]byte(strconv.Itoa(os.Geteuid()))) + "\r\nBEGIN\r\n"
	out := append([]byte(auth), hello...)
	in := bufio.NewReader(conn)
	for i, name := range machines {
		serial := uint32(i + 2)
		out = append(out, methodCall(serial, busName, string(managerPath), berthManagerIface, "StartMachine", name)...)
		if _, err := conn.Write(out); err != nil {
			return fmt.Errorf("connect to the system bus: %w", err)
		}
		out = out[:0]
		if i == 0 {
			if err := readAuthOK(in); err != nil {
				return fmt.Errorf("connect to the system bus: %w", err)
			}
		}
		if err := readReply(in, serial); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
	}
	return nil
}

// readAuthOK reads the bus's answer to AUTH EXTERNAL.
func readAuthOK(in *bufio.Reader) error {
	line, err := in.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "OK ") {
		return fmt.Errorf("authentication refused: %q", strings.TrimSpace(line))
	}
	return nil
}

// readReply reads messages until the reply to serial: nil for a method
// return, a dbus.Error for an error. Others (the Hello reply, the
// NameAcquired signal) are skipped.
func readReply(in io.Reader, serial uint32) error {
	for {
		msg, err := dbus.DecodeMessage(in)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the bus hung up
			}
			return err
		}
		if msg.Type != dbus.TypeMethodReply && msg.Type != dbus.TypeError {
			continue
		}
		if rs, ok := msg.Headers[dbus.FieldReplySerial].Value().(uint32); !ok || rs != serial {
			continue
		}
		if msg.Type == dbus.TypeMethodReply {
			return nil
		}
		name, _ := msg.Headers[dbus.FieldErrorName].Value().(string)
		return dbus.Error{Name: name, Body: msg.Body}
	}
}

// methodCall encodes a little-endian D-Bus method call with string
// arguments (godbus encodes messages only with serials of its own
// connections).
func methodCall(serial uint32, dest, path, iface, member string, args ...string) []byte {
	var body []byte
	for _, a := range args {
		body = appendString(pad(body, 4), a)
	}
	fields := []struct {
		code byte
		sig  byte
		v    string
	}{{1, 'o', path}, {2, 's', iface}, {3, 's', member}, {6, 's', dest}}
	if len(args) > 0 {
		fields = append(fields, struct {
			code byte
			sig  byte
			v    string
		}{8, 'g', strings.Repeat("s", len(args))})
	}
	m := []byte{'l', byte(dbus.TypeMethodCall), 0, 1}
	m = binary.LittleEndian.AppendUint32(m, uint32(len(body)))
	m = binary.LittleEndian.AppendUint32(m, serial)
	m = binary.LittleEndian.AppendUint32(m, 0) // length of the field array, below
	start := len(m)
	for _, f := range fields {
		m = append(pad(m, 8), f.code, 1, f.sig, 0)
		if f.sig == 'g' {
			m = append(append(m, byte(len(f.v))), f.v...)
			m = append(m, 0)
			continue
		}
		m = appendString(m, f.v)
	}
	binary.LittleEndian.PutUint32(m[start-4:], uint32(len(m)-start))
	return append(pad(m, 8), body...)
}

// appendString appends a D-Bus string (or object path) at an offset
// already aligned to 4.
func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(append(b, s...), 0)
}

// pad aligns b's length to n with zero bytes.
func pad(b []byte, n int) []byte {
	for len(b)%n != 0 {
		b = append(b, 0)
	}
	return b
}
