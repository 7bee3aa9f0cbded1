package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/internal/imagebuild"
	"github.com/berth-dev/berth/internal/paths"
)

// demo is the state the steps share.
type demo struct {
	// bin is the directory with the built programs.
	bin string
	// root is the private temporary root everything is made under.
	root string
	// image is the busybox image directory.
	image string
	// bus is the private bus's address, ns the network namespace berthd
	// runs in, paths berthd's layout under root, machine and peer the
	// machines it starts.
	bus, ns, machine, peer string
	paths                  paths.Paths
	// cleanups undo what the steps made, last first.
	cleanups []func()
}

// defer_ registers fn to run when the demo ends, before root is removed.
func (d *demo) defer_(fn func()) { d.cleanups = append(d.cleanups, fn) }

// cleanup runs the registered cleanups, last first.
func (d *demo) cleanup() {
	for i := len(d.cleanups) - 1; i >= 0; i-- {
		d.cleanups[i]()
	}
}

// step is one thing the demo shows.
type step struct {
	title string
	run   func(d *demo) error
}

var steps = []step{
	{"build a busybox image", (*demo).buildImage},
	{"the container has its own hostname", (*demo).hostname},
	{"the command runs as PID 1 in its own PID namespace", (*demo).pid1},
	{"the container's mount table", (*demo).mounts},
	{"the command's exit status becomes berth-nspawn's", (*demo).exitStatus},
	{"a bad option fails before anything is created", (*demo).badOption},
	{"a private system bus (dbus-daemon with berth's policy)", (*demo).startBus},
	{"a network namespace for berthd and its machines", (*demo).netns},
	{"install the unit template under the private root, and two images", (*demo).installUnits},
	{"berthd: the machine manager, embedded backend (no systemd needed)", (*demo).startBerthd},
	{"berthctl start: two machines run as units and register", (*demo).startMachine},
	{"berthd's DHCP server gives both an address: list, leases, links, diagnose", (*demo).addresses},
	{"both are unprivileged (-U): root inside is the first of a range of host IDs", (*demo).unprivileged},
	{"each machine reaches the host side and the other machine", (*demo).ping},
	{"the real machinectl sees them too", (*demo).machinectl},
	{"berthctl status", (*demo).status},
	{"berthctl poweroff: busybox init shuts both down on its own signal", (*demo).powerOff},
	{"berthctl enable and disable: the boot-time link", (*demo).enable},
	{"starting a missing image fails clearly", (*demo).badStart},
}

func main() {
	bin := flag.String("bin", "bin", "directory holding the built berth programs")
	flag.Parse()
	if err := run(*bin); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("\ndemo: all steps passed")
}

func run(bin string) error {
	if os.Geteuid() != 0 {
		return errors.New("the demo needs root (it creates namespaces and mounts)")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "berth-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	d := &demo{bin: abs, root: root}
	defer d.cleanup()
	for i, s := range steps {
		fmt.Printf("\n== step %d: %s\n", i+1, s.title)
		if err := s.run(d); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.title, err)
		}
	}
	return nil
}

func (d *demo) buildImage() error {
	d.image = filepath.Join(d.root, "busybox")
	if err := imagebuild.Busybox(d.image); err != nil {
		return err
	}
	fmt.Printf("image at %s\n", d.image)
	return nil
}

// nspawn runs berth-nspawn with the demo's common options and returns its
// standard output and exit status.
func (d *demo) nspawn(args ...string) (string, int, error) {
	full := append([]string{"-q", "--pipe", "--register=no", "-D", d.image, "-M", "demo"}, args...)
	fmt.Printf("$ berth-nspawn %s\n", shellQuote(full))
	cmd := exec.Command(filepath.Join(d.bin, "berth-nspawn"), full...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), exit.ExitCode(), nil
	}
	return out.String(), 0, err
}

// expect runs berth-nspawn and checks its output and status.
func (d *demo) expect(wantOut string, wantCode int, args ...string) error {
	out, code, err := d.nspawn(args...)
	if err != nil {
		return err
	}
	fmt.Print(indent(out))
	fmt.Printf("exit status %d\n", code)
	if strings.TrimSpace(out) != wantOut || code != wantCode {
		return fmt.Errorf("got %q and status %d, want %q and %d", out, code, wantOut, wantCode)
	}
	return nil
}

func (d *demo) hostname() error {
	return d.expect("demo-host", 0, "--hostname=demo-host", "/bin/hostname")
}

func (d *demo) pid1() error {
	return d.expect("PID 1", 0, "/bin/sh", "-c", "echo PID $$")
}

func (d *demo) mounts() error {
	out, code, err := d.nspawn("/bin/sh", "-c", "awk '{print $5, $(NF-2)}' /proc/self/mountinfo")
	if err != nil {
		return err
	}
	fmt.Print(indent(out))
	for _, want := range []string{"/ ", "/proc proc", "/sys sysfs", "/dev tmpfs", "/dev/pts devpts", "/run tmpfs", "/tmp tmpfs"} {
		if !strings.Contains(out, "\n"+want) && !strings.HasPrefix(out, want) {
			return fmt.Errorf("mount %q missing", want)
		}
	}
	if code != 0 {
		return fmt.Errorf("exit status %d", code)
	}
	return nil
}

func (d *demo) exitStatus() error {
	return d.expect("", 7, "/bin/sh", "-c", "exit 7")
}

func (d *demo) badOption() error {
	out, code, err := d.nspawn("--machine=bad_name", "/bin/true")
	if err != nil {
		return err
	}
	fmt.Printf("exit status %d (the error is printed above)\n", code)
	if code != 1 || out != "" {
		return fmt.Errorf("got status %d, want 1", code)
	}
	return nil
}

// indent prefixes every line of s for display.
func indent(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "    " + strings.Join(lines, "\n    ") + "\n"
}

// shellQuote joins args the way they would be typed in a shell.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if strings.ContainsAny(a, " $'\"{}()") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
