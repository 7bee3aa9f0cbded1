package nspawnopts

import (
	"errors"
	"github.com/berth-dev/berth/internal/nspawnsettings"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/capset"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var testEnv = Env{Getenv: func(n string) string { return map[string]string{"HOSTVAR": "hv"}[n] }}

func TestParse(t *testing.T) {
	base := Config{
		Directory: "/srv/img", Machine: "img", Hostname: "img", Volatile: VolatileNo,
		Caps: capset.Default, ResolvConf: "auto", Timezone: "auto", LinkJournal: "auto",
		Console: ConsoleReadOnly, Register: RegisterYes,
	}
	with := func(f func(c *Config)) Config { c := base; f(&c); return c }
	tests := []struct {
		name string
		args []string
		want Config
	}{
		{"defaults", []string{"-D", "/srv/img"}, base},
		{"command keeps its own flags", []string{"-D", "/srv/img", "ls", "-l", "--all"},
			with(func(c *Config) { c.Command = []string{"ls", "-l", "--all"} })},
		{"machine and hostname", []string{"-D", "/srv/img", "-M", "m1", "--hostname=h.example"},
			with(func(c *Config) { c.Machine, c.Hostname = "m1", "h.example" })},
		{"boot sets the kill signal", []string{"-D", "/srv/img", "-b"},
			with(func(c *Config) { c.Boot, c.KillSignal = true, SigRTMin+3 })},
		{"explicit kill signal", []string{"-D", "/srv/img", "--kill-signal=TERM"},
			with(func(c *Config) { c.KillSignal = 15 })},
		{"uuid", []string{"-D", "/srv/img", "--uuid=0123456789ABCDEF0123456789abcdef"},
			with(func(c *Config) { c.UUID = "01234567-89ab-cdef-0123-456789abcdef" })},
		{"env pass-through", []string{"-D", "/srv/img", "-E", "A=1", "-E", "HOSTVAR"},
			with(func(c *Config) { c.Env = []string{"A=1", "HOSTVAR=hv"} })},
		{"pipe", []string{"-D", "/srv/img", "-P"}, with(func(c *Config) { c.Console = ConsolePipe })},
		{"volatile without value", []string{"-D", "/srv/img", "--volatile"}, with(func(c *Config) { c.Volatile = VolatileYes })},
		{"volatile boolean", []string{"-D", "/srv/img", "--volatile=no"}, base},
		{"private network adds NET_ADMIN", []string{"-D", "/srv/img", "--private-network"},
			with(func(c *Config) { c.PrivateNetwork, c.Caps = true, capset.Default|capset.NetAdmin })},
		{"register auto, keep unit", []string{"-D", "/srv/img", "--register=auto", "--keep-unit"},
			with(func(c *Config) { c.Register, c.KeepUnit = RegisterAuto, true })},
		{"register boolean", []string{"-D", "/srv/img", "--register=0"}, with(func(c *Config) { c.Register = RegisterNo })},
		{"journal", []string{"-D", "/srv/img", "-j"}, with(func(c *Config) { c.LinkJournal = "try-guest" })},
		{"ephemeral template is the directory", []string{"-x", "--template=/srv/tpl", "-M", "eph"},
			with(func(c *Config) { c.Directory, c.Machine, c.Hostname, c.Ephemeral = "/srv/tpl", "eph", "eph", true })},
		{"binds", []string{"-D", "/srv/img", "--bind=/a", "--bind-ro=/b:/c:norbind", "--bind=+/d:/e", "--bind=:/tmpd"},
			with(func(c *Config) {
				c.Binds = []Bind{
					{Source: "/a", Dest: "/a", Recursive: true},
					{Source: "/b", Dest: "/c", ReadOnly: true},
					{Source: "/d", SourceInRoot: true, Dest: "/e", Recursive: true},
					{Dest: "/tmpd", Recursive: true},
				}
			})},
		{"tmpfs and overlays", []string{"-D", "/srv/img", "--tmpfs=/t", "--overlay=/l:/u:/d", "--overlay-ro=/l1:/l2:/d2", "--inaccessible=/x/"},
			with(func(c *Config) {
				c.TmpFS = []TmpFS{{Dest: "/t", Options: "mode=0755"}}
				c.Overlays = []Overlay{{Lower: []string{"/l"}, Upper: "/u", Dest: "/d"}, {Lower: []string{"/l1", "/l2"}, Dest: "/d2", ReadOnly: true}}
				c.Inaccessible = []string{"/x"}
			})},
		{"capabilities", []string{"-D", "/srv/img", "--capability=CAP_SYS_MODULE", "--drop-capability=CAP_CHOWN"},
			with(func(c *Config) { c.Caps = (capset.Default | 1<<16) &^ 1 })},
		{"pivot root", []string{"-D", "/srv/img", "--pivot-root=/ostree/deploy/a:/sysroot"},
			with(func(c *Config) { c.PivotRoot = nspawnsettings.PivotRoot{New: "/ostree/deploy/a", Old: "/sysroot"} })},
		{"ambient capabilities", []string{"-D", "/srv/img", "--ambient-capability=CAP_NET_RAW,cap_kill", "--ambient-capability=CAP_CHOWN"},
			with(func(c *Config) { c.AmbientCaps = 1<<13 | 1<<5 | 1 })},
		{"ambient capability added first", []string{"-D", "/srv/img", "--capability=CAP_SYS_TIME", "--ambient-capability=CAP_SYS_TIME"},
			with(func(c *Config) { c.Caps, c.AmbientCaps = capset.Default|1<<25, 1<<25 })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.args, testEnv)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(Config{}, "CommandLine")); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "no root directory"},
		{[]string{"-D", "/x", "-M", "a_b"}, "invalid machine name"},
		{[]string{"-D", "/x", "--hostname=a..b"}, "invalid hostname"},
		{[]string{"-D", "/"}, ""},
		{[]string{"-D", "/x", "-b", "-a"}, "may not be combined"},
		{[]string{"-D", "/x", "--chdir=rel"}, "absolute"},
		{[]string{"-D", "/x", "--kill-signal=NOPE"}, "invalid signal"},
		{[]string{"-D", "/x", "--kill-signal=RTMIN+40"}, "invalid signal"},
		{[]string{"-D", "/x", "--notify-ready=maybe"}, "--notify-ready"},
		{[]string{"-D", "/x", "--volatile=tmp"}, "--volatile"},
		{[]string{"-D", "/x", "--resolv-conf=x"}, "--resolv-conf"},
		{[]string{"-D", "/x", "--timezone=x"}, "--timezone"},
		{[]string{"-D", "/x", "--link-journal=x"}, "--link-journal"},
		{[]string{"-D", "/x", "-x", "--link-journal=host"}, "--ephemeral"},
		{[]string{"-D", "/x", "-x", "--volatile=yes"}, "may not be combined"},
		{[]string{"-D", "/x", "-x", "--template=/t"}, "--template"},
		{[]string{"--template=/t"}, "--template= needs"},
		{[]string{"-D", "/x", "--console=x"}, "--console"},
		{[]string{"-D", "/x", "-E", "1A=b"}, "environment"},
		{[]string{"-D", "/x", "--bind=a:/b"}, "absolute"},
		{[]string{"-D", "/x", "--bind=/a:b"}, "absolute"},
		{[]string{"-D", "/x", "--bind=/a:/b:idmap"}, "user namespace"},
		{[]string{"-D", "/x", "--bind=/a:/b:/c:/d"}, "unknown option"},
		{[]string{"-D", "/x", "--private-users=abc"}, "not a number"},
		{[]string{"-D", "/x", "--private-users=4294967290:100"}, "beyond"},
		{[]string{"-D", "/x", "-U", "--private-users-ownership=chown", "--read-only"}, "--read-only"},
		{[]string{"-D", "/x", "-U", "--private-users-chown", "--volatile"}, "--volatile"},
		{[]string{"-D", "/x", "--private-users-ownership=maybe"}, "want off, chown, map or auto"},
		{[]string{"-D", "/x", "--private-users-ownership=map"}, "without a user namespace"},
		{[]string{"-D", "/x", "-U", "--bind=/a:/b:idmap=1:2"}, ""},
		{[]string{"-D", "/x", "-U", "--bind=/a:/b:idmap=1:70000:1"}, "count out of range"},
		{[]string{"-D", "/x", "--overlay=/a"}, "at least two"},
		{[]string{"-D", "/x", "--overlay=a:/b"}, "absolute"},
		{[]string{"-D", "/x", "--tmpfs=t"}, "--tmpfs"},
		{[]string{"-D", "/x", "--inaccessible=t"}, "--inaccessible"},
		{[]string{"-D", "/x", "--capability=CAP_X"}, "unknown capability"},
		{[]string{"-D", "/x", "--pivot-root=rel"}, "invalid --pivot-root="},
		{[]string{"-D", "/x", "--bind-user=alice"}, "--bind-user= requires --private-users"},
		{[]string{"-D", "/x", "-U", "--bind-user=alice"}, "--bind-user= is not supported"},
		{[]string{"-D", "/x", "--pivot-root=/a:"}, "invalid --pivot-root="},
		{[]string{"-D", "/x", "--ambient-capability=all"}, "does not support the value all"},
		{[]string{"-D", "/x", "--ambient-capability=CAP_NET_RAW,ALL"}, "does not support the value all"},
		{[]string{"-D", "/x", "--ambient-capability=CAP_SYS_TIME"}, "not in the container's capability set"},
		{[]string{"-D", "/x", "--drop-capability=CAP_KILL", "--ambient-capability=CAP_KILL"}, "not in the container's capability set"},
		{[]string{"-D", "/x", "-b", "--ambient-capability=CAP_KILL"}, "not useful with --boot"},
		{[]string{"-D", "/x", "--ambient-capability=CAP_X"}, "unknown capability"},
		{[]string{"-D", "/x", "--uuid=0"}, "invalid UUID"},
		{[]string{"-D", "/x", "-u", "a/b"}, "invalid user"},
		{[]string{"-D", "/x", "--nope"}, "unknown flag"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := Parse(tc.args, testEnv)
			if tc.want == "" {
				if err != nil {
					t.Errorf("unexpected error %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want a one-line usage error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseMachineImageSearch(t *testing.T) {
	env := Env{ImageDirs: []string{"/etc/machines", "/var/lib/machines"},
		Exists: func(p string) bool { return p == "/var/lib/machines/web" }}
	c, err := Parse([]string{"-M", "web"}, env)
	if err != nil || c.Directory != "/var/lib/machines/web" {
		t.Errorf("Parse(-M web) = %q, %v; want the pool image", c.Directory, err)
	}
}

func TestParseTemplateIntoPool(t *testing.T) {
	env := Env{ImageDirs: []string{"/var/lib/machines"}, Pool: "/var/lib/machines"}
	c, err := Parse([]string{"-M", "new", "--template=/srv/tpl"}, env)
	if err != nil || c.Directory != "/var/lib/machines/new" || c.Template != "/srv/tpl" {
		t.Errorf("Parse = %q, %q, %v; want the pool path and the template", c.Directory, c.Template, err)
	}
}

func TestEphemeralName(t *testing.T) {
	c, err := Parse([]string{"-D", "/srv/img", "-x"}, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Machine, "img-") || len(c.Machine) != len("img-")+16 {
		t.Errorf("ephemeral machine name %q, want img-<16 hex digits>", c.Machine)
	}
}

func FuzzParseBind(f *testing.F) {
	for _, s := range []string{"/a", "/a:/b", "+/a:/b:norbind", ":/x", `/a\:b:/c`, "/a:/b:rbind,noidmap"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBind(s, false)
		if err == nil && (!strings.HasPrefix(b.Dest, "/") || strings.Contains(b.Dest, "\x00")) {
			t.Errorf("ParseBind(%q) accepted destination %q", s, b.Dest)
		}
	})
}

func FuzzParseOverlay(f *testing.F) {
	for _, s := range []string{"/l:/u", "/l1:/l2:/u:/d", "+/l::/d", "/a"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, ro bool) {
		o, err := ParseOverlay(s, ro)
		if err == nil && (len(o.Lower) == 0 || !strings.HasPrefix(o.Dest, "/")) {
			t.Errorf("ParseOverlay(%q) = %+v", s, o)
		}
	})
}

func TestCommandLineSettings(t *testing.T) {
	tests := []struct {
		args []string
		want []string // keys marked as given on the command line
	}{
		{[]string{"-D", "/srv/img"}, nil},
		{[]string{"-D", "/srv/img", "-b", "--hostname=h", "--bind=/a:/b", "--bind-ro=/c"}, []string{"Boot", "Hostname", "Bind", "BindReadOnly"}},
		{[]string{"-D", "/srv/img", "-U", "--capability=CAP_SYS_ADMIN", "-E", "A=b", "sh"}, []string{"PrivateUsers", "Capability", "Environment", "Parameters"}},
		{[]string{"-D", "/srv/img", "--pivot-root=/a"}, []string{"PivotRoot"}},
		{[]string{"-D", "/srv/img", "--capability=CAP_SYS_TIME,CAP_KILL", "--ambient-capability=CAP_SYS_TIME,CAP_KILL"}, []string{"Capability", "AmbientCapability"}},
		{[]string{"-D", "/srv/img", "--private-network", "--tmpfs=/t", "-j"}, []string{"Private", "TemporaryFileSystem", "LinkJournal"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			c, err := Parse(tc.args, testEnv)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range c.CommandLine.Entries() {
				if e.Origin.Kind == nspawnsettings.FromCommandLine {
					got = append(got, e.Key)
				}
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b }), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseImage(t *testing.T) {
	tests := []struct {
		args           []string
		machine, image string
		err            string
	}{
		{[]string{"-i", "/srv/fedora.raw"}, "fedora", "/srv/fedora.raw", ""},
		{[]string{"--image=/srv/x.img", "-M", "m"}, "m", "/srv/x.img", ""},
		{[]string{"-i", "/srv/a.raw", "-D", "/srv/a"}, "", "", "may not be combined"},
		{[]string{"-i", "/srv/a.raw", "--volatile=overlay"}, "a", "/srv/a.raw", ""},
		{[]string{"-i", "/srv/a.raw", "-x", "-M", "e"}, "e", "/srv/a.raw", ""},
		{[]string{"-i", "/srv/a.raw", "-x", "--volatile"}, "", "", "may not be combined"},
		{[]string{"-i", "/srv/a.raw", "-U"}, "a", "/srv/a.raw", ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			c, err := Parse(tc.args, testEnv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || c.Machine != tc.machine || c.Image != tc.image {
				t.Errorf("got machine %q image %q err %v, want %q %q", c.Machine, c.Image, err, tc.machine, tc.image)
			}
		})
	}
}
