package testbed

import (
	"os"
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
// berthd), and every option of the template stays. The root also gets
// this host's machine ID, which berth-nspawn reads below BERTH_ROOT (for
// veth MACs and journal links).
func InstallUnits(t testing.TB, p paths.Paths, busAddress string) {
	t.Helper()
	bin := Binary(t, "berth-nspawn")
	repo := RepoRoot(t)
	tmpl, err := os.ReadFile(filepath.Join(repo, "units/berth-nspawn@.service"))
	if err != nil {
		t.Fatal(err)
	}
	out := AdaptTemplate(string(tmpl), filepath.Dir(bin), busAddress)
	target, err := os.ReadFile(filepath.Join(repo, "units/berth-machines.target"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(p.Root, "etc/systemd/system")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
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
}

// AdaptTemplate rewrites the unit template tmpl for a private root, as
// InstallUnits describes: @BINDIR@ becomes bindir, and the unit's
// environment gets the bus address (if not empty). Every option of the
// template stays: the machines run with the managed defaults. It is pure.
func AdaptTemplate(tmpl, bindir, busAddress string) string {
	out := strings.ReplaceAll(tmpl, "@BINDIR@", bindir)
	if busAddress == "" {
		return out
	}
	env := "Environment=DBUS_SYSTEM_BUS_ADDRESS=" + strings.ReplaceAll(busAddress, "%", "%%") + "\n"
	return strings.Replace(out, "\nExecStart=", "\n"+env+"ExecStart=", 1)
}
