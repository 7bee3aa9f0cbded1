package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/imagebuild"
)

// dhcpFiles make a busybox guest ask berthd for an address: busybox init
// runs /etc/init.d/rcS, which starts udhcpc on host0 (the container end
// of the ve-* link), and the script udhcpc runs applies the lease with ip.
var dhcpFiles = map[string]struct {
	mode os.FileMode
	body string
}{
	"etc/init.d/rcS": {0o755, `#!/bin/sh
ip link set lo up
ip link set host0 up
udhcpc -i host0 -b -t 20 -T 1 -s /usr/share/udhcpc/default.script -x hostname:"$(hostname)" >/dev/null 2>&1
`},
	"usr/share/udhcpc/default.script": {0o755, `#!/bin/sh
case "$1" in
deconfig)
	ip -4 addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound|renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
	;;
esac
`},
}

// dhcpImage builds a busybox image called name in the pool whose init
// asks for a DHCP lease.
func (d *demo) dhcpImage(name string) error {
	dir := filepath.Join(d.paths.Pool, name)
	if err := imagebuild.Busybox(dir); err != nil {
		return err
	}
	for rel, f := range dhcpFiles {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f.body), f.mode); err != nil {
			return err
		}
	}
	return nil
}

// ipv4Of returns the machine's first IPv4 address in berthctl list
// --no-legend output, or "".
func ipv4Of(list, machine string) string {
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[0] != machine {
			continue
		}
		for _, a := range strings.Split(f[len(f)-1], ",") {
			if strings.Count(a, ".") == 3 {
				return a
			}
		}
	}
	return ""
}

// addresses waits until berthctl list shows an IPv4 address for both
// machines, then shows the list, the leases and the links.
func (d *demo) addresses() error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := d.quietCtl("list", "--no-legend")
		if ipv4Of(out, d.machine) != "" && ipv4Of(out, d.peer) != "" {
			break
		}
		if time.Now().After(deadline) {
			_, _ = d.ctl("leases")
			_, _ = d.ctl("diagnose", d.machine)
			return fmt.Errorf("no DHCP address for both machines after 60s:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, args := range [][]string{{"list"}, {"leases"}, {"links"}, {"diagnose", d.machine}} {
		if _, err := d.ctl(args...); err != nil {
			return err
		}
	}
	return nil
}

// unprivileged shows each machine's init running in a user namespace of
// its own (the template's -U): its uid_map puts root inside on a range of
// host IDs, never on host root.
func (d *demo) unprivileged() error {
	for _, m := range []string{d.machine, d.peer} {
		if err := d.inMachine(m, `awk '{print} $1 == 0 && $2 != 0 {ok = 1} END {exit !ok}' /proc/1/uid_map`); err != nil {
			return err
		}
	}
	return nil
}

// ping shows each machine reaching its host side (its default gateway,
// berthd's address on its link) and the other machine.
func (d *demo) ping() error {
	list, err := d.quietCtl("list", "--no-legend")
	if err != nil {
		return err
	}
	for _, p := range [][2]string{{d.machine, d.peer}, {d.peer, d.machine}} {
		gateway := `ip route | awk '/^default/ {print $3; exit}'`
		if err := d.inMachine(p[0], "ping -c1 -W5 $("+gateway+")"); err != nil {
			return err
		}
		if err := d.inMachine(p[0], "ping -c1 -W5 "+ipv4Of(list, p[1])); err != nil {
			return err
		}
	}
	return nil
}

// inMachine runs a shell command in a machine's network and mount
// namespaces (so the machine's own busybox runs it), showing it.
func (d *demo) inMachine(machine, script string) error {
	status, err := d.quietCtl("status", machine)
	if err != nil {
		return err
	}
	leader := ""
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "Leader="); ok {
			leader = v
		}
	}
	if leader == "" {
		return errors.New(machine + " has no leader")
	}
	args := []string{"-t", leader, "-n", "-m", "sh", "-c", script}
	fmt.Printf("$ nsenter %s    # in %s\n", shellQuote(args), machine)
	cmd := exec.Command("nsenter", args...)
	cmd.Env = []string{"PATH=" + searchPath}
	out, err := cmd.CombinedOutput()
	fmt.Print(indent(string(out)))
	if err != nil {
		return fmt.Errorf("in %s: %s: %w", machine, script, err)
	}
	return nil
}
