package imagefiles

import (
	"errors"
	"os"
	"syscall"
)

// Root is an open image root directory. Its methods may run concurrently.
type Root struct {
	f *os.File
}

// FromFile uses an open root directory (any open mode, O_PATH included,
// such as /proc/PID/root of a running machine). Close closes f.
func FromFile(f *os.File) *Root { return &Root{f: f} }

// readOptional is ReadFile that returns nil, nil for a missing file.
func (r *Root) readOptional(name string, limit int64) ([]byte, error) {
	data, err := r.ReadFile(name, limit)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	return data, err
}

// Hostname returns the image's /etc/hostname, "" if it has none.
func (r *Root) Hostname() (string, error) {
	data, err := r.readOptional("/etc/hostname", MaxSmall)
	if err != nil {
		return "", err
	}
	return ParseHostname(data)
}

// MachineID returns the 16 bytes of /etc/machine-id, nil if unset.
func (r *Root) MachineID() ([]byte, error) {
	data, err := r.readOptional("/etc/machine-id", MaxSmall)
	if err != nil {
		return nil, err
	}
	return ParseMachineID(data)
}

// MachineInfo returns /etc/machine-info, empty if it has none.
func (r *Root) MachineInfo() (map[string]string, error) {
	data, err := r.readOptional("/etc/machine-info", MaxEnv)
	if err != nil {
		return nil, err
	}
	return ParseEnv(data)
}

// OSRelease returns /etc/os-release, or /usr/lib/os-release when the
// former is missing or a symlink (usually it links to the latter); empty if
// neither exists.
func (r *Root) OSRelease() (map[string]string, error) {
	data, err := r.readOptional("/etc/os-release", MaxEnv)
	if data == nil && (err == nil || errors.Is(err, ErrSymlink)) {
		data, err = r.readOptional("/usr/lib/os-release", MaxEnv)
	}
	if err != nil {
		return nil, err
	}
	return ParseEnv(data)
}
