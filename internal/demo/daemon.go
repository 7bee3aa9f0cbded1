package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// policyFile is the project's bus policy, relative to the repository root
// (make demo runs from there).
const policyFile = "units/dbus/system.d/org.freedesktop.machine1.conf"

// startBus starts a private dbus-daemon like the system bus.
func (d *demo) startBus() error {
	policy, err := filepath.Abs(policyFile)
	if err != nil {
		return err
	}
	dir := filepath.Join(d.root, "bus")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	conf := filepath.Join(dir, "system.conf")
	if err := os.WriteFile(conf, []byte(testbed.BusConfig(filepath.Join(dir, "socket"), []string{policy})), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	cmd.Env = []string{"PATH=" + searchPath}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start dbus-daemon: %w", err)
	}
	d.defer_(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("dbus-daemon printed no address: %w", err)
	}
	d.bus = strings.TrimSpace(line)
	fmt.Printf("private system bus at %s\n", d.bus)
	return nil
}

// searchPath is the PATH of every program the demo runs.
const searchPath = "/usr/sbin:/usr/bin:/sbin:/bin"

// netns creates the network namespace berthd and its machines live in.
func (d *demo) netns() error {
	var r [4]byte
	_, _ = rand.Read(r[:])
	d.ns = "berth-demo-" + hex.EncodeToString(r[:])
	if err := d.show("ip", "netns", "add", d.ns); err != nil {
		return err
	}
	d.defer_(func() { _ = exec.Command("ip", "netns", "del", d.ns).Run() })
	return d.show("ip", "-n", d.ns, "link", "set", "lo", "up")
}

// installUnits installs the unit template and target under the private
// root as `make install` would, adapted to the private root and bus (see
// testbed.AdaptTemplate): the unit gets the bus address (berthd --root
// points berth-nspawn at the private pool) and keeps the managed defaults.
func (d *demo) installUnits() error {
	d.paths = paths.Under(d.root)
	tmpl, err := os.ReadFile("units/berth-nspawn@.service")
	if err != nil {
		return err
	}
	target, err := os.ReadFile("units/berth-machines.target")
	if err != nil {
		return err
	}
	unit := testbed.AdaptTemplate(string(tmpl), d.bin, d.bus)
	dir := filepath.Join(d.root, "etc/systemd/system")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	id, err := os.ReadFile("/etc/machine-id") // berth-nspawn reads it below BERTH_ROOT
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d.root, "etc/machine-id"), id, 0o444); err != nil {
		return err
	}
	for name, body := range map[string][]byte{"berth-nspawn@.service": []byte(unit), "berth-machines.target": target} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			return err
		}
		fmt.Printf("installed %s\n", filepath.Join(dir, name))
	}
	d.machine, d.peer = "web-"+d.ns[len(d.ns)-4:], "db-"+d.ns[len(d.ns)-4:]
	for _, name := range []string{d.machine, d.peer} {
		if err := d.dhcpImage(name); err != nil {
			return err
		}
		fmt.Printf("image %s (busybox; its rcS runs udhcpc on host0)\n", filepath.Join(d.paths.Pool, name))
	}
	return nil
}

// startBerthd runs berthd in the demo's network namespace, on the private
// bus, with every path under the private root, and waits for its name.
func (d *demo) startBerthd() error {
	args := []string{"--net=/run/netns/" + d.ns, filepath.Join(d.bin, "berthd"), "--root", d.root}
	fmt.Printf("$ nsenter %s\n", shellQuote(args))
	cmd := exec.Command("nsenter", args...)
	cmd.Env = []string{"PATH=" + searchPath, "DBUS_SYSTEM_BUS_ADDRESS=" + d.bus, "BERTH_BACKEND=embedded"}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	d.defer_(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return waitName(d.bus, done)
}

// waitName waits until org.freedesktop.machine1 has an owner on bus.
func waitName(bus string, exited <-chan struct{}) error {
	conn, err := dbus.Connect(bus)
	if err != nil {
		return err
	}
	defer conn.Close()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var has bool
		_ = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.machine1").Store(&has)
		if has {
			return nil
		}
		select {
		case <-exited:
			return errors.New("berthd exited")
		default:
		}
	}
	return errors.New("berthd never took its bus name")
}

// ctl runs berthctl on the private bus, showing the command and its output.
func (d *demo) ctl(args ...string) (string, error) {
	fmt.Printf("$ berthctl %s\n", shellQuote(args))
	cmd := exec.Command(filepath.Join(d.bin, "berthctl"), args...)
	cmd.Env = []string{"PATH=" + searchPath, "DBUS_SYSTEM_BUS_ADDRESS=" + d.bus}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	fmt.Print(indent(out.String()))
	if err != nil {
		return out.String(), fmt.Errorf("berthctl %s: %w", args[0], err)
	}
	return out.String(), nil
}

func (d *demo) startMachine() error {
	d.defer_(func() { _, _ = d.quietCtl("poweroff", "--force", d.machine, d.peer) })
	if _, err := d.ctl("start", d.machine, d.peer); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if out, _ := d.quietCtl("list"); strings.Contains(out, d.machine+" ") && strings.Contains(out, d.peer+" ") {
			_, err := d.ctl("list")
			return err
		}
	}
	return fmt.Errorf("%s and %s never both registered", d.machine, d.peer)
}

// quietCtl runs berthctl without showing it.
func (d *demo) quietCtl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(d.bin, "berthctl"), args...)
	cmd.Env = []string{"PATH=" + searchPath, "DBUS_SYSTEM_BUS_ADDRESS=" + d.bus}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// machinectl shows the real machinectl listing the machine, when it is
// installed: it runs in a mount namespace where /run/systemd/system
// exists, since machinectl refuses to run without it.
func (d *demo) machinectl() error {
	mc, err := exec.LookPath("machinectl")
	if err != nil {
		fmt.Println("(machinectl is not installed: skipped)")
		return nil
	}
	fmt.Println("$ machinectl list")
	script := `mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && exec "$0" "$@"`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, mc, "--no-pager", "list")
	cmd.Env = []string{"PATH=" + searchPath, "DBUS_SYSTEM_BUS_ADDRESS=" + d.bus, "SYSTEMD_COLORS=0"}
	out, err := cmd.CombinedOutput()
	fmt.Print(indent(string(out)))
	if err != nil || !strings.Contains(string(out), d.machine) {
		return fmt.Errorf("machinectl list does not show %s: %v", d.machine, err)
	}
	return nil
}

func (d *demo) status() error {
	out, err := d.ctl("status", d.machine)
	if err == nil && !strings.Contains(out, "State=running") {
		err = errors.New("the machine is not running")
	}
	return err
}

func (d *demo) powerOff() error {
	start := time.Now()
	if _, err := d.ctl("poweroff", d.machine, d.peer); err != nil {
		return err
	}
	fmt.Printf("powered off in %v\n", time.Since(start).Round(10*time.Millisecond))
	out, err := d.ctl("list")
	if err == nil && (strings.Contains(out, d.machine) || strings.Contains(out, d.peer)) {
		err = errors.New("a machine is still listed")
	}
	return err
}

func (d *demo) enable() error {
	if _, err := d.ctl("enable", d.machine); err != nil {
		return err
	}
	_, err := d.ctl("disable", d.machine)
	return err
}

func (d *demo) badStart() error {
	out, err := d.ctl("start", "no-such-image")
	if err == nil || !strings.Contains(out, "NoSuchImage") {
		return fmt.Errorf("start of a missing image did not fail with NoSuchImage: %v", err)
	}
	return nil
}

// show runs a command, printing it first.
func (d *demo) show(name string, args ...string) error {
	fmt.Printf("$ %s %s\n", name, shellQuote(args))
	out, err := exec.Command(name, args...).CombinedOutput()
	fmt.Print(indent(string(out)))
	return err
}
