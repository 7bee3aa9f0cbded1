package testbed

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/paths"
)

// InstallUnits installs the repository's unit template and machines target
// under p.Root's /etc/systemd/system, as `make install` would, adapted to a
// private root and bus: @BINDIR@ is the freshly built berth-nspawn's
// directory (berthd --root sets BERTH_ROOT in the machines' units, so
// berth-nspawn -M finds the images below p.Root), the unit's environment
// gets the test bus's address (so the machine registers with the test's
// berthd), and
// options berth-nspawn's --help does not list yet are dropped and
// returned, so a test can say what it ran without. The root also gets
// this host's machine ID, which berth-nspawn reads below BERTH_ROOT (for
// veth MACs and journal links).
func InstallUnits(t testing.TB, p paths.Paths, busAddress string) (dropped []string) {
	t.Helper()
	bin := Binary(t, "berth-nspawn")
	repo := RepoRoot(t)
	tmpl, err := os.ReadFile(filepath.Join(repo, "units/berth-nspawn@.service"))
	if err != nil {
		t.Fatal(err)
	}
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	out, dropped := AdaptTemplate(string(tmpl), filepath.Dir(bin), string(help), busAddress)
	target, err := os.ReadFile(filepath.Join(repo, "units/berth-machines.target"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(p.Root, "etc/systemd/system")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// berth-nspawn makes the root's propagation directory a shared mount
	// (as machined's /run/systemd/nspawn/propagate) that outlives the
	// machines: detach it before the root is removed.
	t.Cleanup(func() { _ = exec.Command("umount", "-l", filepath.Join(p.Run, "propagate")).Run() })
	id, err := os.ReadFile("/etc/machine-id")
	if err != nil {
		Unavailable(t, "no host machine ID: "+err.Error())
	}
	if err := os.WriteFile(filepath.Join(p.Root, "etc/machine-id"), id, 0o444); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"berth-nspawn@.service": out, "berth-machines.target": string(target)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dropped
}

// AdaptTemplate rewrites the unit template tmpl for a private root, as
// InstallUnits describes; help is berth-nspawn's --help output. It is pure.
func AdaptTemplate(tmpl, bindir, help, busAddress string) (string, []string) {
	var out []string
	var dropped []string
	for _, line := range strings.Split(strings.ReplaceAll(tmpl, "@BINDIR@", bindir), "\n") {
		if rest, ok := strings.CutPrefix(line, "ExecStart="); ok {
			var kept []string
			for i, a := range strings.Fields(rest) {
				name, _, _ := strings.Cut(a, "=")
				if i > 0 && !strings.Contains(help, name+" ") && !strings.Contains(help, name+"[") && !strings.Contains(help, name+",") {
					dropped = append(dropped, a)
					continue
				}
				kept = append(kept, a)
			}
			line = "ExecStart=" + strings.Join(kept, " ")
			if busAddress != "" {
				line = "Environment=DBUS_SYSTEM_BUS_ADDRESS=" + strings.ReplaceAll(busAddress, "%", "%%") + "\n" + line
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n"), dropped
}
