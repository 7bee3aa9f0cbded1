package imagebuild

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DebianPackages are the packages added to debootstrap's minbase variant:
// enough for the image to boot with systemd, run a bus and take an address
// with a DHCP client.
var DebianPackages = []string{"systemd", "systemd-sysv", "dbus", "iproute2", "udhcpc", "isc-dhcp-client"}

// DebianSuite is the Debian release the image is made from.
const DebianSuite = "bookworm"

// DefaultCacheDir is where built Debian images are kept between runs.
const DefaultCacheDir = "/var/cache/berth-test"

// Debian describes one cached Debian image build.
type Debian struct {
	// CacheDir holds the cached images; DefaultCacheDir when empty.
	CacheDir string
	// Mirror is the Debian mirror; read from apt's sources when empty.
	Mirror string
	// Packages are added to minbase; DebianPackages when nil.
	Packages []string
	// Log receives debootstrap's output; discarded when nil.
	Log io.Writer
}

// Path returns the directory of the cached image for d's package list. The
// name is a hash of the suite and the packages, so a changed list builds a
// new image and never reuses a stale one.
func (d Debian) Path() string {
	h := sha256.Sum256([]byte(DebianSuite + "\n" + strings.Join(d.packages(), ",")))
	return filepath.Join(d.cacheDir(), "debian-"+hex.EncodeToString(h[:8]))
}

// Ensure returns the image directory, building it first when the cache has
// none. built reports whether this call ran debootstrap. Concurrent callers
// (other test processes) wait on a lock, and a half-built image is never
// visible under the final name.
func (d Debian) Ensure() (path string, built bool, err error) {
	path = d.Path()
	if err := os.MkdirAll(d.cacheDir(), 0o700); err != nil {
		return "", false, fmt.Errorf("debian image cache: %w", err)
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(path, "etc/os-release")); err == nil {
		return path, false, nil
	}
	tmp := path + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", false, fmt.Errorf("debian image: %w", err)
	}
	if err := d.debootstrap(tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return "", false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", false, fmt.Errorf("debian image: %w", err)
	}
	return path, true, nil
}

// debootstrap runs debootstrap into dir.
func (d Debian) debootstrap(dir string) error {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return errors.New("debootstrap not found (install the debootstrap package)")
	}
	mirror := d.Mirror
	if mirror == "" {
		mirror = aptMirror()
	}
	cmd := exec.Command("debootstrap", "--variant=minbase",
		"--include="+strings.Join(d.packages(), ","), DebianSuite, dir, mirror)
	out := d.Log
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("debootstrap %s: %w", DebianSuite, err)
	}
	// An empty machine-id makes the guest's systemd pick one at boot.
	return os.WriteFile(filepath.Join(dir, "etc/machine-id"), nil, 0o444)
}

func (d Debian) cacheDir() string {
	if d.CacheDir != "" {
		return d.CacheDir
	}
	return DefaultCacheDir
}

func (d Debian) packages() []string {
	if d.Packages != nil {
		return d.Packages
	}
	return DebianPackages
}

// aptMirror returns the first Debian mirror apt is configured with.
func aptMirror() string {
	for _, f := range []string{"/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"} {
		if m := mirrorFrom(f); m != "" {
			return m
		}
	}
	return "http://deb.debian.org/debian"
}

// mirrorFrom reads the first non-security Debian URI from an apt source file
// in either the deb822 or the one-line format.
func mirrorFrom(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		var uri string
		switch {
		case len(fields) >= 2 && fields[0] == "URIs:":
			uri = fields[1]
		case len(fields) >= 3 && fields[0] == "deb":
			uri = fields[1]
			if strings.HasPrefix(uri, "[") {
				uri = fields[2]
			}
		}
		if strings.HasPrefix(uri, "http") && !strings.Contains(uri, "security") {
			return uri
		}
	}
	return ""
}

// lockFile takes an exclusive flock on path and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
