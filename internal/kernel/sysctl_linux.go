//go:build linux

package kernel

import (
	"errors"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// sysctlDir is where the kernel's settings are files.
const sysctlDir = "/proc/sys/"

// WriteSysctl sets the kernel setting name (a path under /proc/sys, such
// as "net/ipv4/ip_forward") to value, in the calling thread's network
// namespace for a net/ setting, with open, write and close: os.WriteFile
// also registers the file with Go's poller and takes it off again
// (settings files can be polled), two more system calls.
func WriteSysctl(name, value string) error {
	path := sysctlDir + name
	fd, err := RetryInt("open", func() (int, error) { return unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: unwrap(err)}
	}
	defer func() { _ = unix.Close(fd) }()
	n, err := RetryInt("write", func() (int, error) { return unix.Write(fd, []byte(value)) })
	switch {
	case err != nil:
		return &os.PathError{Op: "write", Path: path, Err: unwrap(err)}
	case n < len(value):
		return &os.PathError{Op: "write", Path: path, Err: io.ErrShortWrite}
	}
	return nil
}

// ReadSysctl returns the value of the kernel setting name (see
// WriteSysctl), without surrounding white space, with open, one read
// and close: for settings of up to 512 bytes.
func ReadSysctl(name string) (string, error) {
	path := sysctlDir + name
	fd, err := RetryInt("open", func() (int, error) { return unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return "", &os.PathError{Op: "open", Path: path, Err: unwrap(err)}
	}
	defer func() { _ = unix.Close(fd) }()
	var buf [512]byte
	n, err := RetryInt("read", func() (int, error) { return unix.Read(fd, buf[:]) })
	if err != nil {
		return "", &os.PathError{Op: "read", Path: path, Err: unwrap(err)}
	}
	return strings.TrimSpace(string(buf[:n])), nil
}

// unwrap returns the errno inside the *os.SyscallError Retry makes, for
// an *os.PathError that names the file instead.
func unwrap(err error) error {
	if se := (*os.SyscallError)(nil); errors.As(err, &se) {
		return se.Err
	}
	return err
}
