package sysdbackend

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/berth-dev/berth/internal/unitgen"
)

func repoUnit(t *testing.T, s unitgen.Settings) unitgen.Unit {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testbed.RepoRoot(t), "units", unitgen.Template))
	if err != nil {
		t.Fatal(err)
	}
	u, err := unitgen.Generate([]byte(strings.ReplaceAll(string(b), "@BINDIR@", "/usr/bin")), s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestProperties checks every property's name, D-Bus signature (what
// systemd v252's bus_unit_set_transient_property expects) and value.
func TestProperties(t *testing.T) {
	u := repoUnit(t, unitgen.Settings{
		Machine: "web", Limits: unitgen.Limits{MemoryMax: 1 << 30, CPUQuota: 150, CPUWeight: 50, IOWeight: 200},
		Environment: []string{"A=1"}, TimeoutStop: 2 * time.Second,
	})
	type sig struct{ Sig, Value string }
	got := map[string]sig{}
	for _, p := range Properties(u) {
		if _, dup := got[p.Name]; dup {
			t.Errorf("property %s twice", p.Name)
		}
		got[p.Name] = sig{p.Value.Signature().String(), p.Value.String()}
	}
	want := map[string]sig{
		"Description":            {"s", `"Container web (berth)"`},
		"CollectMode":            {"s", `"inactive-or-failed"`},
		"Type":                   {"s", `"notify"`},
		"ExecStart":              {"a(sasb)", `[("/usr/bin/berth-nspawn", ["/usr/bin/berth-nspawn", "--quiet", "--keep-unit", "--boot", "--link-journal=try-guest", "--network-veth", "-U", "--settings=override", "--machine=web"], false,)]`},
		"KillMode":               {"s", `"mixed"`},
		"KillSignal":             {"i", "15"},
		"TimeoutStartUSec":       {"t", "@t 90000000"},
		"TimeoutStopUSec":        {"t", "@t 2000000"},
		"SuccessExitStatus":      {"(aiai)", "@(aiai) ([133], [],)"},
		"RestartForceExitStatus": {"(aiai)", "@(aiai) ([133], [],)"},
		"Delegate":               {"b", "true"},
		"Documentation":          {"as", `["https://github.com/berth-dev/berth"]`},
		"Wants":                  {"as", `["modprobe@loop.service", "modprobe@dm_mod.service"]`},
		"After":                  {"as", `["network.target", "modprobe@loop.service", "modprobe@dm_mod.service"]`},
		"Before":                 {"as", `["berth-machines.target"]`},
		"PartOf":                 {"as", `["berth-machines.target"]`},
		"Environment":            {"as", `["A=1"]`},
		"RequiresMountsFor":      {"as", `["/var/lib/machines/web"]`},
		"Slice":                  {"s", `"machine.slice"`},
		"DevicePolicy":           {"s", `"closed"`},
		"DeviceAllow": {"a(ss)", `[("/dev/net/tun", "rwm",), ("char-pts", "rw",), ("/dev/loop-control", "rw",), ("block-loop", "rw",), ` +
			`("block-blkext", "rw",), ("/dev/mapper/control", "rw",), ("block-device-mapper", "rw",)]`},
		"MemoryMax":          {"t", "@t 1073741824"},
		"TasksMax":           {"t", "@t 16384"},
		"CPUWeight":          {"t", "@t 50"},
		"IOWeight":           {"t", "@t 200"},
		"CPUQuotaPerSecUSec": {"t", "@t 1500000"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Properties (-want +got):\n%s", diff)
	}
}

func TestPropertiesInfinity(t *testing.T) {
	u := unitgen.Unit{Name: "x", ExecStart: []string{"/bin/x"}, Limits: unitgen.Limits{TasksMax: unitgen.Infinity},
		SuccessExitStatus: unitgen.ExitStatus{Signals: []unix.Signal{unix.SIGINT}}}
	for _, p := range Properties(u) {
		switch p.Name {
		case "TimeoutStopUSec", "TimeoutStartUSec", "TasksMax":
			if v := p.Value.Value().(uint64); v != math.MaxUint64 {
				t.Errorf("%s = %d, want infinity", p.Name, v)
			}
		case "SuccessExitStatus":
			if got := p.Value.String(); got != "@(aiai) ([], [2],)" {
				t.Errorf("SuccessExitStatus = %s", got)
			}
		}
	}
}

func TestMachineState(t *testing.T) {
	for in, want := range map[string]string{
		"activating": "opening", "reloading": "opening", "active": "running", "deactivating": "closing",
		"inactive": "", "failed": "", "": "",
	} {
		if got := MachineState(in); got != want {
			t.Errorf("MachineState(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBooted(t *testing.T) {
	root := t.TempDir()
	if Booted(root) {
		t.Error("Booted without /run/systemd/system")
	}
	if err := os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !Booted(root) {
		t.Error("not Booted with /run/systemd/system")
	}
}
