package nspawnsettings

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/testbed"
)

// privilegedLines are one line per privileged setting, with its section.
var privilegedLines = []struct{ section, line, key string }{
	{"Exec", "Capability=CAP_SYS_MODULE", "Capability"},
	{"Exec", "AmbientCapability=CAP_NET_RAW", "AmbientCapability"},
	{"Exec", "MachineID=0123456789abcdef0123456789abcdef", "MachineID"},
	{"Exec", "PrivateUsers=no", "PrivateUsers"},
	{"Exec", "SystemCallFilter=@mount", "SystemCallFilter"},
	{"Exec", "LimitNOFILE=1048576", "LimitNOFILE"},
	{"Exec", "LimitMEMLOCK=infinity", "LimitMEMLOCK"},
	{"Exec", "OOMScoreAdjust=-1000", "OOMScoreAdjust"},
	{"Exec", "CPUAffinity=0", "CPUAffinity"},
	{"Exec", "LinkJournal=host", "LinkJournal"},
	{"Exec", "Ephemeral=no", "Ephemeral"},
	{"Files", "Bind=/etc:/host-etc", "Bind"},
	{"Files", "BindReadOnly=/root", "BindReadOnly"},
	{"Files", "TemporaryFileSystem=/var", "TemporaryFileSystem"},
	{"Files", "Inaccessible=/x", "Inaccessible"},
	{"Files", "Overlay=/usr:/usr", "Overlay"},
	{"Files", "OverlayReadOnly=/opt:/opt", "OverlayReadOnly"},
	{"Files", "PrivateUsersChown=yes", "PrivateUsersChown"},
	{"Files", "PrivateUsersOwnership=map", "PrivateUsersOwnership"},
	{"Files", "BindUser=root", "BindUser"},
	{"Network", "Private=no", "Private"},
	{"Network", "VirtualEthernet=no", "VirtualEthernet"},
	{"Network", "VirtualEthernetExtra=vx", "VirtualEthernetExtra"},
	{"Network", "Interface=eth0", "Interface"},
	{"Network", "MACVLAN=eth0", "MACVLAN"},
	{"Network", "IPVLAN=eth0", "IPVLAN"},
	{"Network", "Bridge=br0", "Bridge"},
	{"Network", "Zone=z", "Zone"},
	{"Network", "Port=22", "Port"},
}

// write creates dir/name with content.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrustTable(t *testing.T) {
	for _, tt := range privilegedLines {
		t.Run(tt.key, func(t *testing.T) {
			content := "[" + tt.section + "]\n" + tt.line + "\n[Exec]\nHostname=kept\n"
			p := testbed.Paths(t)
			image := filepath.Join(p.Pool, "m")

			// Untrusted: next to the image.
			path := write(t, p.Pool, "m.nspawn", content)
			eff, err := Resolve(p, "m", image, new(Settings), ModeYes)
			if err != nil {
				t.Fatal(err)
			}
			if e, _ := eff.Settings.Lookup(tt.key); e.Origin.Kind != FromDefault {
				t.Errorf("untrusted %s applied: %+v", tt.line, e)
			}
			if e, _ := eff.Settings.Lookup("Hostname"); e.Value != "kept" {
				t.Errorf("allowed Hostname not applied: %+v", e)
			}
			if !warnedAbout(eff.Warnings, tt.key, path) {
				t.Errorf("no warning naming %s and %s: %v", tt.key, path, eff.Warnings)
			}

			// Trusted: the same file in /etc/systemd/nspawn.
			write(t, p.SettingsTrusted[0], "m.nspawn", content)
			eff, err = Resolve(p, "m", image, new(Settings), ModeYes)
			if err != nil {
				t.Fatal(err)
			}
			if e, _ := eff.Settings.Lookup(tt.key); e.Origin.Kind != FromFile || !eff.File.Trusted {
				t.Errorf("trusted %s not applied: %+v", tt.line, e)
			}
			if len(eff.Warnings) != 0 {
				t.Errorf("trusted file warned: %v", eff.Warnings)
			}
		})
	}
}

func warnedAbout(ws []Warning, key, file string) bool {
	for _, w := range ws {
		if w.Key == key && w.File == file && strings.Contains(w.Msg, key) && strings.Contains(w.Msg, file) {
			return true
		}
	}
	return false
}

// TestTrustAllowList checks that every key is either on the allow-list or
// privileged, and that the table of privileged lines above covers all the
// privileged keys.
func TestTrustAllowList(t *testing.T) {
	covered := map[string]bool{}
	for _, l := range privilegedLines {
		covered[l.key] = true
	}
	for _, k := range Keys() {
		_, allowed := untrustedAllowed(k)
		if !allowed && !covered[k] && !strings.HasPrefix(k, "Limit") {
			t.Errorf("privileged key %s has no trust test line", k)
		}
	}
}

func TestTrustPartial(t *testing.T) {
	s, _, err := Parse([]byte("[Exec]\nSystemCallFilter=@mount\nSystemCallFilter=~@obsolete\nDropCapability=CAP_MKNOD\nCapability=\n"), "u")
	if err != nil {
		t.Fatal(err)
	}
	u, warns := Untrusted(s)
	want := map[string]string{"SystemCallFilter": "~@obsolete", "DropCapability": "CAP_MKNOD"}
	if diff := cmp.Diff(want, setValues(u)); diff != "" {
		t.Errorf("untrusted (-want +got):\n%s", diff)
	}
	if len(warns) != 1 || warns[0].Key != "SystemCallFilter" {
		t.Errorf("warnings: %v", warns)
	}
}

func TestTrustSymlinkIntoEtc(t *testing.T) {
	p := testbed.Paths(t)
	etc := write(t, p.SettingsTrusted[0], "other.nspawn", "[Files]\nBind=/etc\n")
	link := filepath.Join(p.Pool, "m.nspawn")
	if err := os.Symlink(etc, link); err != nil {
		t.Fatal(err)
	}
	eff, err := Resolve(p, "m", filepath.Join(p.Pool, "m"), new(Settings), ModeYes)
	if err != nil {
		t.Fatal(err)
	}
	if eff.File == nil || eff.File.Trusted || eff.File.Path != link {
		t.Fatalf("file = %+v, want untrusted %s", eff.File, link)
	}
	if eff.Settings.Bind.Set || !warnedAbout(eff.Warnings, "Bind", link) {
		t.Errorf("Bind through a symlink into /etc applied or not warned: %v", eff.Warnings)
	}
}

func TestFindOrder(t *testing.T) {
	p := testbed.Paths(t)
	image := filepath.Join(p.ImageDirs[2], "m")
	if _, err := Find(p, "m", image); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty: %v, want ErrNotFound", err)
	}
	pool := write(t, filepath.Dir(image), "m.nspawn", "[Exec]\nHostname=pool\n")
	run := write(t, p.SettingsTrusted[1], "m.nspawn", "[Exec]\nHostname=run\n")
	etc := write(t, p.SettingsTrusted[0], "m.nspawn", "[Exec]\nHostname=etc\n")
	for _, want := range []struct {
		path    string
		trusted bool
		remove  string
	}{{etc, true, etc}, {run, true, run}, {pool, false, pool}} {
		f, err := Find(p, "m", image)
		if err != nil {
			t.Fatal(err)
		}
		if f.Path != want.path || f.Trusted != want.trusted {
			t.Errorf("found %s trusted=%v, want %s trusted=%v", f.Path, f.Trusted, want.path, want.trusted)
		}
		os.Remove(want.remove)
	}
	if _, err := Find(p, "m", p.Root); !errors.Is(err, ErrNotFound) {
		t.Errorf("root image: %v, want ErrNotFound", err)
	}
	if _, err := Find(p, "../x", image); err == nil {
		t.Errorf("invalid machine name accepted")
	}
}

func TestFindRefusesFIFO(t *testing.T) {
	p := testbed.Paths(t)
	if err := mkfifo(filepath.Join(p.SettingsTrusted[0], "m.nspawn")); err != nil {
		t.Fatal(err)
	}
	_, err := Find(p, "m", "")
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("FIFO: %v, want ErrInvalid", err)
	}
}

func TestFindMalformed(t *testing.T) {
	p := testbed.Paths(t)
	path := write(t, p.SettingsTrusted[0], "m.nspawn", "[Exec]\n\nBoot=perhaps\n")
	_, err := Resolve(p, "m", "", new(Settings), ModeYes)
	if err == nil || !strings.Contains(err.Error(), path+":3: Boot=") {
		t.Errorf("error %v does not name %s:3", err, path)
	}
}
