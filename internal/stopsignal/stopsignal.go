package stopsignal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Init names an init system.
type Init string

// The inits Detect recognizes.
const (
	Systemd  Init = "systemd"
	Busybox  Init = "busybox"
	SysV     Init = "sysvinit"
	OpenRC   Init = "openrc-init"
	Runit    Init = "runit"
	Tini     Init = "tini"
	DumbInit Init = "dumb-init"
	Unknown  Init = "unknown"
)

// Linux signal numbers the guest's inits use, spelled out so the package
// builds (as pure code) on every OS: the first real-time signal of glibc
// and musl, and SIGPWR.
const (
	sigRTMin = unix.Signal(34)
	sigPWR   = unix.Signal(30)
)

// Signals are the signals that ask an init to power off and to reboot.
// Reboot is 0 for an init that cannot reboot.
type Signals struct {
	// Init is the init the signals were chosen for.
	Init Init
	// PowerOff asks the init to shut the machine down.
	PowerOff unix.Signal
	// Reboot asks the init to reboot the machine (0: not supported).
	Reboot unix.Signal
}

var table = map[Init]Signals{
	Systemd:  {Systemd, sigRTMin + 4, unix.SIGINT},
	Busybox:  {Busybox, unix.SIGUSR2, unix.SIGTERM},
	SysV:     {SysV, sigPWR, unix.SIGINT},
	OpenRC:   {OpenRC, unix.SIGTERM, unix.SIGINT},
	Runit:    {Runit, unix.SIGCONT, unix.SIGINT},
	Tini:     {Tini, unix.SIGTERM, 0},
	DumbInit: {DumbInit, unix.SIGTERM, 0},
	Unknown:  {Unknown, unix.SIGTERM, unix.SIGINT},
}

// For returns the signals of init; an unknown init gets Unknown's.
func For(init Init) Signals {
	if s, ok := table[init]; ok {
		return s
	}
	return table[Unknown]
}

// Override returns s with PowerOff and Reboot replaced where the override
// is non-zero: a machine's own setting beats detection.
func (s Signals) Override(powerOff, reboot unix.Signal) Signals {
	if powerOff != 0 {
		s.PowerOff = powerOff
	}
	if reboot != 0 {
		s.Reboot = reboot
	}
	return s
}

// ErrNoInit is returned by Detect for an image without any init nspawn
// would boot.
var ErrNoInit = errors.New("image has no init")

// systemdPaths are tried before /sbin/init, in nspawn's order.
var systemdPaths = []string{"/usr/lib/systemd/systemd", "/lib/systemd/systemd"}

// maxScan bounds how much of an init binary is searched for a signature.
const maxScan = 16 << 20

// Detect finds the init that booting the image at root would start and
// returns its signals.
func Detect(root string) (Signals, error) {
	for _, p := range systemdPaths {
		if ok, err := isFile(root, p); err != nil {
			return Signals{}, fmt.Errorf("detect init of %s: %w", root, err)
		} else if ok {
			return For(Systemd), nil
		}
	}
	init, err := classify(root, "/sbin/init")
	if err != nil {
		return Signals{}, fmt.Errorf("detect init of %s: %w", root, err)
	}
	return For(init), nil
}

// isFile reports whether p, resolved inside root, is a regular file.
func isFile(root, p string) (bool, error) {
	full, err := securejoin.SecureJoin(root, p)
	if err != nil {
		return false, err
	}
	fi, err := os.Stat(full)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil && fi.Mode().IsRegular(), err
}

// classify names the init at p inside root: by the name its symbolic
// links lead to, then by a signature inside the file.
func classify(root, p string) (Init, error) {
	target, err := resolve(root, p)
	if err != nil {
		return "", err
	}
	if init, ok := byName(path.Base(target)); ok {
		return init, nil
	}
	full, err := securejoin.SecureJoin(root, target)
	if err != nil {
		return "", err
	}
	return bySignature(full)
}

// resolve follows the symbolic links of p inside root and returns the
// final path relative to root; a missing file is ErrNoInit.
func resolve(root, p string) (string, error) {
	for range 40 {
		full, err := securejoin.SecureJoin(root, path.Dir(p))
		if err != nil {
			return "", err
		}
		link, err := os.Readlink(filepath.Join(full, path.Base(p)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("%s: %w", p, ErrNoInit)
		case errors.Is(err, unix.EINVAL):
			return p, nil // not a link
		case err != nil:
			return "", err
		}
		if !path.IsAbs(link) {
			link = path.Join(path.Dir(p), link)
		}
		p = path.Clean(link)
	}
	return "", fmt.Errorf("%s: %w", p, unix.ELOOP)
}

func byName(base string) (Init, bool) {
	switch base {
	case "systemd":
		return Systemd, true
	case "busybox":
		return Busybox, true
	case "openrc-init":
		return OpenRC, true
	case "runit-init", "runit":
		return Runit, true
	case "tini", "tini-static":
		return Tini, true
	case "dumb-init":
		return DumbInit, true
	}
	return "", false
}

// signatures are byte strings that identify an init binary. Order
// matters: busybox contains every applet's strings.
var signatures = []struct {
	init Init
	sig  string
}{
	{Busybox, "BusyBox v"},
	{Systemd, "systemd.unit="},
	{OpenRC, "openrc-init"},
	{Runit, "runit: fatal"},
	{SysV, "INIT_VERSION"},
	{SysV, "sysvinit"},
	{Tini, "tini version"},
	{DumbInit, "dumb-init"},
}

func bySignature(full string) (Init, error) {
	f, err := os.Open(full)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxScan))
	if err != nil {
		return "", err
	}
	for _, s := range signatures {
		if bytes.Contains(b, []byte(s.sig)) {
			return s.init, nil
		}
	}
	return Unknown, nil
}
