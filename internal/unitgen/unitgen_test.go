package unitgen

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/testbed"
)

// repoTemplate returns the repository's template with @BINDIR@ replaced,
// as make install does.
func repoTemplate(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testbed.RepoRoot(t), "units", Template))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(b), "@BINDIR@", "/usr/bin"))
}

func TestGenerateRepoTemplate(t *testing.T) {
	u, err := Generate(repoTemplate(t), Settings{Machine: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	modprobe := []string{"modprobe@loop.service", "modprobe@dm_mod.service"}
	want := Unit{
		Name: "berth-machine@web-1.service", Machine: "web-1", Description: "Container web-1 (berth)",
		Documentation: []string{"https://github.com/berth-dev/berth"},
		Wants:         modprobe, After: append([]string{"network.target"}, modprobe...),
		Before: []string{Target}, PartOf: []string{Target}, RequiresMountsFor: []string{"/var/lib/machines/web-1"},
		Type: "notify",
		ExecStart: []string{"/usr/bin/berth-nspawn", "--quiet", "--keep-unit", "--boot", "--link-journal=try-guest",
			"--network-veth", "-U", "--settings=override", "--machine=web-1"},
		KillMode: "mixed", KillSignal: unix.SIGTERM,
		TimeoutStart: DefaultTimeoutStart, TimeoutStop: 90 * time.Second,
		SuccessExitStatus: ExitStatus{Codes: []int{133}}, RestartForceExitStatus: ExitStatus{Codes: []int{133}},
		Slice: "machine.slice", Delegate: true, DevicePolicy: "closed",
		DeviceAllow: []DeviceAllow{
			{"/dev/net/tun", "rwm"}, {"char-pts", "rw"}, {"/dev/loop-control", "rw"}, {"block-loop", "rw"},
			{"block-blkext", "rw"}, {"/dev/mapper/control", "rw"}, {"block-device-mapper", "rw"},
		},
		Limits: Limits{TasksMax: 16384},
	}
	if diff := cmp.Diff(want, u); diff != "" {
		t.Errorf("Generate (-want +got):\n%s", diff)
	}
}

const minimal = "[Service]\nExecStart=/bin/x %s\n"

func TestGenerateSpecifiers(t *testing.T) {
	host := Host{Hostname: "box.example", MachineID: "mid", BootID: "bid", KernelRelease: "6.1"}
	tests := []struct{ spec, want string }{
		{"%i", "a-b.c"}, {"%I", "a/b.c"}, {"%n", "berth-machine@a-b.c.service"}, {"%N", "berth-machine@a-b.c"},
		{"%p", "berth-machine"}, {"%P", "berth/machine"}, {"%j", "machine"}, {"%J", "machine"}, {"%f", "/a/b.c"},
		{"%%", "%"}, {"100%%", "100%"}, {"%H", "box.example"}, {"%l", "box"}, {"%m", "mid"}, {"%b", "bid"},
		{"%v", "6.1"}, {"%t/x", "/run/x"}, {"%S", "/var/lib"}, {"%u:%U:%g:%G", "root:0:root:0"}, {"%h", "/root"},
		{"--root=%S/machines/%i", "--root=/var/lib/machines/a-b.c"},
		{`"%i with space"`, "a-b.c with space"}, {"a$$b", "a$b"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			u, err := Generate([]byte(strings.Replace(minimal, "%s", tt.spec, 1)), Settings{Machine: "a-b.c", Host: host})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"/bin/x", tt.want}, u.ExecStart); diff != "" {
				t.Errorf("ExecStart (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGenerateSettings(t *testing.T) {
	tmpl := "[Service]\nExecStart=/bin/x\nEnvironment=A=1 \"B=two words\"\nTasksMax=100\nMemoryMax=1G\nKillSignal=SIGINT\n"
	tests := []struct {
		name  string
		set   Settings
		check func(Unit) any
		want  any
	}{
		{"template limits kept", Settings{}, func(u Unit) any { return u.Limits }, Limits{MemoryMax: 1 << 30, TasksMax: 100}},
		{
			"limits override", Settings{Limits: Limits{MemoryMax: 512 << 20, CPUQuota: 150, CPUWeight: 200, IOWeight: 50, TasksMax: Infinity}},
			func(u Unit) any { return u.Limits }, Limits{MemoryMax: 512 << 20, CPUQuota: 150, CPUWeight: 200, IOWeight: 50, TasksMax: Infinity},
		},
		{"kill signal kept", Settings{}, func(u Unit) any { return u.KillSignal }, unix.SIGINT},
		{"kill signal", Settings{KillSignal: unix.SIGUSR2}, func(u Unit) any { return u.KillSignal }, unix.SIGUSR2},
		{"timeout", Settings{TimeoutStop: 2 * time.Second}, func(u Unit) any { return u.TimeoutStop }, 2 * time.Second},
		{"environment", Settings{Environment: []string{"C=3"}}, func(u Unit) any { return u.Environment }, []string{"A=1", "B=two words", "C=3"}},
		{"guest stop signal", Settings{GuestStopSignal: unix.Signal(38)}, func(u Unit) any { return u.ExecStart }, []string{"/bin/x", "--kill-signal=SIGRTMIN+4"}},
		{"default type", Settings{}, func(u Unit) any { return []string{u.Type, u.KillMode} }, []string{"simple", "control-group"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.set.Machine = "m"
			u, err := Generate([]byte(tmpl), tt.set)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, tt.check(u)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

var badTemplates = []struct{ name, tmpl string }{
	{"not a unit file", "ExecStart=/bin/x\n"},
	{"no ExecStart", "[Service]\nType=notify\n"},
	{"two ExecStart", "[Service]\nExecStart=/bin/x\nExecStart=/bin/y\n"},
	{"prefixed command", "[Service]\nExecStart=-/bin/x\n"},
	{"several commands", "[Service]\nExecStart=/bin/x ; /bin/y\n"},
	{"variable", "[Service]\nExecStart=/bin/x $FOO\n"},
	{"unterminated quote", "[Service]\nExecStart=/bin/x \"a\n"},
	{"unknown specifier", "[Service]\nExecStart=/bin/x %q\n"},
	{"specifier without value", "[Service]\nExecStart=/bin/x %H\n"},
	{"lone percent", "[Service]\nExecStart=/bin/x 100%\n"},
	{"unknown setting", "[Service]\nExecStart=/bin/x\nPrivateTmp=yes\n"},
	{"unknown section", "[Service]\nExecStart=/bin/x\n[Timer]\nOnBoot=1\n"},
	{"forking", "[Service]\nType=forking\nExecStart=/bin/x\n"},
	{"restart always", "[Service]\nRestart=always\nExecStart=/bin/x\n"},
	{"kill mode", "[Service]\nKillMode=none\nExecStart=/bin/x\n"},
	{"kill signal", "[Service]\nKillSignal=SIGNOPE\nExecStart=/bin/x\n"},
	{"timeout", "[Service]\nTimeoutStopSec=soon\nExecStart=/bin/x\n"},
	{"exit status", "[Service]\nSuccessExitStatus=300\nExecStart=/bin/x\n"},
	{"slice", "[Service]\nSlice=machine\nExecStart=/bin/x\n"},
	{"delegate", "[Service]\nDelegate=maybe\nExecStart=/bin/x\n"},
	{"device", "[Service]\nDeviceAllow=/etc/passwd rw\nExecStart=/bin/x\n"},
	{"device perm", "[Service]\nDeviceAllow=/dev/null rwx\nExecStart=/bin/x\n"},
	{"memory", "[Service]\nMemoryMax=lots\nExecStart=/bin/x\n"},
	{"cpu quota", "[Service]\nCPUQuota=150\nExecStart=/bin/x\n"},
	{"cpu weight", "[Service]\nCPUWeight=0\nExecStart=/bin/x\n"},
	{"environment", "[Service]\nEnvironment=NOEQUALS\nExecStart=/bin/x\n"},
}

func TestGenerateBadTemplate(t *testing.T) {
	for _, tt := range badTemplates {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate([]byte(tt.tmpl), Settings{Machine: "m"})
			if !errors.Is(err, ErrTemplate) {
				t.Fatalf("Generate = %v, want ErrTemplate", err)
			}
		})
	}
}

func TestGenerateBadSettings(t *testing.T) {
	tests := []struct {
		name string
		set  Settings
		want error
	}{
		{"invalid name", Settings{Machine: "-bad"}, names.ErrInvalid},
		{"empty name", Settings{}, names.ErrInvalid},
		{"weight", Settings{Machine: "m", Limits: Limits{IOWeight: 10001}}, ErrSettings},
		{"environment", Settings{Machine: "m", Environment: []string{"=x"}}, ErrSettings},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Generate([]byte("[Service]\nExecStart=/bin/x\n"), tt.set); !errors.Is(err, tt.want) {
				t.Fatalf("Generate = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	got, err := Names("web-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"berth-machine@web-1.service", "berth-nspawn@web-1.service"}, got); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	for unit, want := range map[string]string{
		"berth-machine@web-1.service": "web-1", "berth-nspawn@a.b.service": "a.b",
		"systemd-nspawn@x.service": "", "berth-nspawn@.service": "", "berth-machine@-x.service": "",
	} {
		if m, ok := MachineOf(unit); m != want || ok != (want != "") {
			t.Errorf("MachineOf(%q) = %q, %v; want %q", unit, m, ok, want)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{
		"SIGTERM": unix.SIGTERM, "TERM": unix.SIGTERM, "9": unix.SIGKILL, "SIGRTMIN+4": 38, "RTMIN+3": 37,
		"SIGRTMAX-1": 63, "SIGUSR2": unix.SIGUSR2, "INT": unix.SIGINT,
	} {
		got, err := ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "SIGFOO", "sigint", "0", "65", "RTMIN+31", "RTMAX-31"} {
		if _, err := ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) succeeded", bad)
		}
	}
	if got := SignalName(38); got != "SIGRTMIN+4" {
		t.Errorf("SignalName(38) = %q", got)
	}
}

func TestParseTimespan(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90": 90 * time.Second, "90s": 90 * time.Second, "1min 30s": 90 * time.Second, "3min": 3 * time.Minute,
		"500ms": 500 * time.Millisecond, "1h2m": time.Hour + 2*time.Minute, "infinity": 0, "0": 0,
	} {
		got, err := parseTimespan(in)
		if err != nil || got != want {
			t.Errorf("parseTimespan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "s", "1x", "-1s", "99999999999s"} {
		if _, err := parseTimespan(bad); err == nil {
			t.Errorf("parseTimespan(%q) succeeded", bad)
		}
	}
}

func FuzzGenerate(f *testing.F) {
	f.Add(repoTemplate(f))
	f.Add([]byte(minimal))
	for _, tt := range badTemplates {
		f.Add([]byte(tt.tmpl))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := Generate(b, Settings{Machine: "m"})
		if err == nil && (len(u.ExecStart) == 0 || u.Name != "berth-machine@m.service") {
			t.Fatalf("Generate accepted %q with ExecStart %q", b, u.ExecStart)
		}
	})
}

func TestDropIn(t *testing.T) {
	s := Settings{
		Machine: "m", Limits: Limits{MemoryMax: 1 << 30, CPUQuota: 50, TasksMax: Infinity},
		KillSignal: unix.SIGINT, TimeoutStop: 2 * time.Second, Environment: []string{"A=b c"},
	}
	b, err := DropIn(s)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Written by berth: this machine's own settings.\n[Service]\nMemoryMax=1073741824\nCPUQuota=50%\n" +
		"TasksMax=infinity\nKillSignal=SIGINT\nTimeoutStopSec=2000ms\nEnvironment=\"A=b c\"\n"
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("DropIn (-want +got):\n%s", diff)
	}
	// The drop-in, appended to the template, must generate the same unit
	// settings: systemd reads drop-ins after the fragment.
	u, err := Generate(append([]byte(minimal[:len(minimal)-4]+"\n"), b...), Settings{Machine: "m"})
	if err != nil {
		t.Fatal(err)
	}
	got := []any{u.Limits, u.KillSignal, u.TimeoutStop, u.Environment}
	wantU := []any{s.Limits, s.KillSignal, s.TimeoutStop, s.Environment}
	if diff := cmp.Diff(wantU, got); diff != "" {
		t.Errorf("drop-in applied (-want +got):\n%s", diff)
	}
}
