package imagebuild

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BusyboxPath is where Debian's busybox-static package installs its binary.
const BusyboxPath = "/bin/busybox"

// ErrNoBusybox is returned when the static busybox binary is missing.
var ErrNoBusybox = errors.New("static busybox not found (install the busybox-static package)")

// busyboxDirs are the empty directories every image has.
var busyboxDirs = []string{
	"bin", "sbin", "usr/bin", "usr/sbin", "usr/lib", "etc", "proc", "sys", "dev",
	"run", "tmp", "var/tmp", "var/log", "root", "home", "mnt", "srv",
}

// busyboxFiles are the configuration files of a busybox image.
var busyboxFiles = map[string]string{
	"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
	"etc/group": "root:x:0:\ndaemon:x:1:\ntty:x:5:\nnogroup:x:65534:\n",
	"etc/os-release": "NAME=\"Busybox\"\nID=busybox\nVERSION_ID=1\n" +
		"PRETTY_NAME=\"Busybox (berth test image)\"\n",
	"etc/hostname": "busybox\n",
}

// Busybox makes a busybox image in dir, which must be empty or missing.
// Every applet is a relative symlink to /bin/busybox, so the links stay
// inside the image wherever it is mounted.
func Busybox(dir string) error {
	if _, err := os.Stat(BusyboxPath); err != nil {
		return ErrNoBusybox
	}
	applets, err := busyboxApplets()
	if err != nil {
		return err
	}
	for _, d := range busyboxDirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("busybox image: %w", err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return fmt.Errorf("busybox image: %w", err)
	}
	if err := copyFile(BusyboxPath, filepath.Join(dir, "bin/busybox"), 0o755); err != nil {
		return err
	}
	for _, a := range applets {
		if err := linkApplet(dir, a); err != nil {
			return err
		}
	}
	for name, body := range busyboxFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return fmt.Errorf("busybox image: %w", err)
		}
	}
	return nil
}

// busyboxApplets lists the applet paths busybox installs, relative to "/".
func busyboxApplets() ([]string, error) {
	out, err := exec.Command(BusyboxPath, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list-full: %w", err)
	}
	var applets []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if a := strings.TrimSpace(sc.Text()); a != "" && a != "bin/busybox" {
			applets = append(applets, a)
		}
	}
	return applets, sc.Err()
}

// linkApplet links one applet path to bin/busybox with a relative target.
func linkApplet(dir, applet string) error {
	link := filepath.Join(dir, applet)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return fmt.Errorf("busybox image: %w", err)
	}
	target, err := filepath.Rel(filepath.Dir(applet), "bin/busybox")
	if err != nil {
		return fmt.Errorf("busybox image: %w", err)
	}
	if err := os.Symlink(target, link); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("busybox image: %w", err)
	}
	return nil
}

// copyFile copies a regular file, creating dst with mode.
func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}
