package nspawnsettings

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// setValues returns key → value for every key of s that is set.
func setValues(s *Settings) map[string]string {
	out := map[string]string{}
	for _, e := range s.Entries() {
		if e.Origin.Kind != FromDefault {
			out[e.Key] = e.Value
		}
	}
	return out
}

var parseTests = []struct {
	name string
	in   string
	want map[string]string
}{
	{"booleans", "[Exec]\nBoot=yes\nEphemeral=off\nProcessTwo=0\nNotifyReady=TRUE\n[Files]\nReadOnly=1\n",
		map[string]string{"Boot": "yes", "Ephemeral": "no", "ProcessTwo": "no", "NotifyReady": "yes", "ReadOnly": "yes"}},
	{"lists and quoting", "[Exec]\nParameters=a \"b c\" 'd e' f\\ g z\"w v\"u \"\" \"e'f\" 'p\"q'\nParameters=h\nEnvironment=A=1 \"B=two words\"\n",
		map[string]string{"Parameters": `a "b c" "d e" f\ g "zw vu" "" "e'f" "p"'"'"q" h`, "Environment": `A=1 "B=two words"`}},
	{"empty resets list", "[Exec]\nParameters=a b\nParameters=\nParameters=c\n", map[string]string{"Parameters": "c"}},
	{"bind forms", "[Files]\nBind=/a\nBind=/b:/c\nBind=+/d:/e:norbind,rootidmap\nBindReadOnly=:/tmpdir\nBind=/x\\:y:/z\n",
		map[string]string{"Bind": `/a:/a /b:/c +/d:/e:norbind,rootidmap /x\:y:/z`, "BindReadOnly": ":/tmpdir"}},
	{"overlay", "[Files]\nOverlay=/l:/u\nOverlayReadOnly=/l1:+/l2::/dst\nOverlay=/::/\n",
		map[string]string{"Overlay": "/l:/u:/u /::/", "OverlayReadOnly": "/l1:+/l2::/dst"}},
	{"tmpfs inaccessible", "[Files]\nTemporaryFileSystem=/run:mode=0700,size=1M\nTemporaryFileSystem=/tmp\nInaccessible=/proc/kcore\n",
		map[string]string{"TemporaryFileSystem": "/run:mode=0700,size=1M /tmp", "Inaccessible": "/proc/kcore"}},
	{"ports", "[Network]\nPort=80\nPort=udp:53:5353\nPort=tcp:8080:80\n",
		map[string]string{"Port": "tcp:80:80 udp:53:5353 tcp:8080:80"}},
	{"network links", "[Network]\nPrivate=yes\nVirtualEthernet=yes\nVirtualEthernetExtra=ve-x:inner\nInterface=eth1 eth2:wan\nMACVLAN=eth0\nIPVLAN=eth3:lan\nZone=web\n",
		map[string]string{"Private": "yes", "VirtualEthernet": "yes", "VirtualEthernetExtra": "ve-x:inner",
			"Interface": "eth1 eth2:wan", "MACVLAN": "eth0", "IPVLAN": "eth3:lan", "Zone": "web"}},
	{"bridge", "[Network]\nBridge=br0\n", map[string]string{"Bridge": "br0"}},
	{"capabilities", "[Exec]\nCapability=CAP_NET_ADMIN sys_time\nDropCapability=CAP_MKNOD\nAmbientCapability=all\n",
		map[string]string{"Capability": "CAP_NET_ADMIN CAP_SYS_TIME", "DropCapability": "CAP_MKNOD", "AmbientCapability": "all"}},
	{"signals", "[Exec]\nKillSignal=SIGRTMIN+3\n", map[string]string{"KillSignal": "SIGRTMIN+3"}},
	{"signal short name", "[Exec]\nKillSignal=TERM\n", map[string]string{"KillSignal": "SIGTERM"}},
	{"signal rtmax", "[Exec]\nKillSignal=RTMAX-1\n", map[string]string{"KillSignal": "SIGRTMIN+29"}},
	{"private users 0 is no", "[Exec]\nPrivateUsers=0\n", map[string]string{"PrivateUsers": "no"}},
	{"private users 1 is yes", "[Exec]\nPrivateUsers=1\n", map[string]string{"PrivateUsers": "yes"}},
	{"private users range", "[Exec]\nPrivateUsers=524288:65536\n", map[string]string{"PrivateUsers": "524288:65536"}},
	{"private users shift", "[Exec]\nPrivateUsers=65536\n", map[string]string{"PrivateUsers": "65536:65536"}},
	{"pick implies chown", "[Exec]\nPrivateUsers=pick\n",
		map[string]string{"PrivateUsers": "pick", "PrivateUsersOwnership": "chown"}},
	{"pick with ownership", "[Exec]\nPrivateUsers=pick\n[Files]\nPrivateUsersOwnership=map\n",
		map[string]string{"PrivateUsers": "pick", "PrivateUsersOwnership": "map"}},
	{"chown boolean", "[Files]\nPrivateUsersChown=yes\n",
		map[string]string{"PrivateUsersChown": "yes", "PrivateUsersOwnership": "chown"}},
	{"rlimits", "[Exec]\nLimitNOFILE=1024:4096\nLimitCORE=infinity\nLimitAS=1G\nLimitCPU=1min\nLimitRTTIME=5ms\nLimitNICE=-5\nLimitSTACK=0\n",
		map[string]string{"LimitNOFILE": "1024:4096", "LimitCORE": "infinity", "LimitAS": "1073741824",
			"LimitCPU": "60", "LimitRTTIME": "5000", "LimitNICE": "25", "LimitSTACK": "0"}},
	{"cpu affinity", "[Exec]\nCPUAffinity=0-3,8\nCPUAffinity=2 9\n", map[string]string{"CPUAffinity": "0-3 8-9"}},
	{"syscall filter", "[Exec]\nSystemCallFilter=@mount keyctl\nSystemCallFilter=~@obsolete ptrace\n",
		map[string]string{"SystemCallFilter": "@mount keyctl ~@obsolete ptrace"}},
	{"modes", "[Exec]\nResolvConf=copy-stub\nTimezone=symlink\nLinkJournal=try-guest\n[Files]\nVolatile=state\n",
		map[string]string{"ResolvConf": "copy-stub", "Timezone": "symlink", "LinkJournal": "try-guest", "Volatile": "state"}},
	{"volatile boolean", "[Files]\nVolatile=yes\n", map[string]string{"Volatile": "yes"}},
	{"identity", "[Exec]\nHostname=web.example\nUser=daemon\nWorkingDirectory=/srv\nPivotRoot=/new:/old\nMachineID=0123456789abcdef0123456789abcdef\nPersonality=x86\nOOMScoreAdjust=-500\n",
		map[string]string{"Hostname": "web.example", "User": "daemon", "WorkingDirectory": "/srv", "PivotRoot": "/new:/old",
			"MachineID": "0123456789abcdef0123456789abcdef", "Personality": "x86", "OOMScoreAdjust": "-500"}},
	{"bind user", "[Files]\nBindUser=alice bob\n", map[string]string{"BindUser": "alice bob"}},
	{"crlf comments continuation", "# c\r\n; c\r\n[Exec]\r\nParameters=a \\\r\n  b\r\n\r\nBoot=yes\r\n",
		map[string]string{"Parameters": "a b", "Boot": "yes"}},
	{"empty scalar unsets", "[Exec]\nUser=x\nUser=\n", map[string]string{}},
	{"no trailing newline", "[Exec]\nBoot=yes", map[string]string{"Boot": "yes"}},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			s, warns, err := Parse([]byte(tt.in), "t.nspawn")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(warns) != 0 {
				t.Errorf("warnings: %v", warns)
			}
			if diff := cmp.Diff(tt.want, setValues(s)); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
		key      string
		tooLarge bool
	}{
		{"bad boolean", "[Exec]\nBoot=maybe\n", 2, "Boot", false},
		{"relative bind", "[Files]\n\nBind=etc:/etc\n", 3, "Bind", false},
		{"dotdot bind", "[Files]\nBind=/a/../etc:/x\n", 2, "Bind", false},
		{"bad bind option", "[Files]\nBind=/a:/b:sideways\n", 2, "Bind", false},
		{"overlay one path", "[Files]\nOverlay=/a\n", 2, "Overlay", false},
		{"port zero", "[Network]\nPort=0\n", 2, "Port", false},
		{"port 2^64", "[Network]\nPort=18446744073709551616\n", 2, "Port", false},
		{"port negative", "[Network]\nPort=-1\n", 2, "Port", false},
		{"unknown capability", "[Exec]\nCapability=CAP_FLY\n", 2, "Capability", false},
		{"unknown signal", "[Exec]\nKillSignal=SIGFOO\n", 2, "KillSignal", false},
		{"soft above hard", "[Exec]\nLimitNOFILE=10:5\n", 2, "LimitNOFILE", false},
		{"rlimit 2^64", "[Exec]\nLimitNOFILE=18446744073709551616\n", 2, "LimitNOFILE", false},
		{"rlimit size overflow", "[Exec]\nLimitAS=18446744073709551615E\n", 2, "LimitAS", false},
		{"rlimit negative", "[Exec]\nLimitNPROC=-1\n", 2, "LimitNPROC", false},
		{"uid range overflow", "[Exec]\nPrivateUsers=4294967295:2\n", 2, "PrivateUsers", false},
		{"cpu past max", "[Exec]\nCPUAffinity=0-9000\n", 2, "CPUAffinity", false},
		{"bad resolvconf", "[Exec]\nResolvConf=sometimes\n", 2, "ResolvConf", false},
		{"bad machine id", "[Exec]\nMachineID=00000000000000000000000000000000\n", 2, "MachineID", false},
		{"bad hostname", "[Exec]\nHostname=a..b\n", 2, "Hostname", false},
		{"zone too long", "[Network]\nZone=abcdefghijklm\n", 2, "Zone", false},
		{"interface with slash", "[Network]\nInterface=a/b\n", 2, "Interface", false},
		{"env without =", "[Exec]\nEnvironment=FOO\n", 2, "Environment", false},
		{"unterminated quote", "[Exec]\nParameters=\"a\n", 2, "Parameters", false},
		{"oom out of range", "[Exec]\nOOMScoreAdjust=1001\n", 2, "OOMScoreAdjust", false},
		{"nul byte", "[Exec]\nBoot=y\x00es\n", 2, "", false},
		{"invalid utf8", "[Exec]\nUser=\xff\n", 2, "", false},
		{"not an assignment", "[Exec]\nBoot\n", 2, "", false},
		{"bad header", "[Exec\n", 1, "", false},
		{"long line", "[Exec]\nParameters=" + strings.Repeat("a", MaxLineSize) + "\n", 2, "", true},
		{"too many binds", "[Files]\n" + strings.Repeat("Bind=/a\n", MaxListEntries+1), MaxListEntries + 2, "Bind", true},
		{"file too large", strings.Repeat("#\n", MaxFileSize), 0, "", true},
		{"100k binds", "[Files]\n" + strings.Repeat("Bind=/a\n", 100_000), MaxListEntries + 2, "Bind", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse([]byte(tt.in), "t.nspawn")
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error = %v, want a *ParseError", err)
			}
			if pe.Line != tt.line || pe.Key != tt.key || pe.File != "t.nspawn" {
				t.Errorf("error at %s:%d key %q, want line %d key %q (%v)", pe.File, pe.Line, pe.Key, tt.line, tt.key, err)
			}
			want := ErrInvalid
			if tt.tooLarge {
				want = ErrTooLarge
			}
			if !errors.Is(err, want) {
				t.Errorf("error %v does not wrap %v", err, want)
			}
		})
	}
}

func TestParseWarnings(t *testing.T) {
	in := "Boot=yes\n[Exec]\nFrobnicate=1\nReadOnly=yes\n[/../]\nBind=/x\n[X-Vendor]\nFoo=bar\n[Network]\nPort=80\n"
	s, warns, err := Parse([]byte(in), "w.nspawn")
	if err != nil {
		t.Fatal(err)
	}
	type w struct {
		Line int
		Key  string
	}
	var got []w
	for _, x := range warns {
		got = append(got, w{x.Line, x.Key})
	}
	want := []w{{1, "Boot"}, {3, "Frobnicate"}, {4, "ReadOnly"}, {5, ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"Port": "tcp:80:80"}, setValues(s)); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
}

func TestParseOrigins(t *testing.T) {
	s, _, err := Parse([]byte("[Exec]\nBoot=yes\n\n[Files]\nBind=/a\nBind=/b\n"), "/etc/systemd/nspawn/m.nspawn")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range s.Entries() {
		got[e.Key] = e.Origin.String()
	}
	for k, want := range map[string]string{
		"Boot": "/etc/systemd/nspawn/m.nspawn:2", "Bind": "/etc/systemd/nspawn/m.nspawn:6", "User": "default",
	} {
		if got[k] != want {
			t.Errorf("origin of %s = %q, want %q", k, got[k], want)
		}
	}
}

// TestKeyTableComplete proves every Settings field has exactly one key.
func TestKeyTableComplete(t *testing.T) {
	typ := reflect.TypeOf(Settings{})
	n := 0
	for i := range typ.NumField() {
		if f := typ.Field(i); f.Type.Kind() == reflect.Array {
			n += f.Type.Len()
		} else {
			n++
		}
	}
	if len(keyTable()) != n || len(keyMap()) != n {
		t.Fatalf("%d keys (%d names) for %d settings", len(keyTable()), len(keyMap()), n)
	}
	for _, k := range keyTable() {
		var s Settings
		k.clear(&s)
		if k.isSet(&s) {
			t.Errorf("%s set after clear", k.name)
		}
	}
}

func TestCommandLinePrivateUsers(t *testing.T) {
	tests := []struct{ in, cmdline, file string }{
		{"0", "0:65536", "no"},
		{"1", "1:65536", "yes"},
		{"yes", "yes", "yes"},
		{"no", "no", "no"},
		{"pick", "pick", "pick"},
		{"identity", "identity", "identity"},
		{"65536:1000", "65536:1000", "65536:1000"},
	}
	for _, tt := range tests {
		var s Settings
		if err := s.SetFromCommandLine("PrivateUsers", tt.in); err != nil {
			t.Fatal(err)
		}
		f, _, err := Parse([]byte("[Exec]\nPrivateUsers="+tt.in+"\n"), "f")
		if err != nil {
			t.Fatal(err)
		}
		got := []string{s.PrivateUsers.Value.String(), f.PrivateUsers.Value.String(), s.PrivateUsers.Origin.String()}
		if diff := cmp.Diff([]string{tt.cmdline, tt.file, "command line"}, got); diff != "" {
			t.Errorf("PrivateUsers=%s (-want +got):\n%s", tt.in, diff)
		}
	}
}

// roundTrip checks that Format writes what Parse reads back to the same
// values.
func roundTrip(t *testing.T, s *Settings) {
	t.Helper()
	out := s.Format()
	s2, _, err := Parse(out, "formatted")
	if err != nil {
		t.Fatalf("formatted settings do not parse: %v\n%s", err, out)
	}
	if diff := cmp.Diff(setValues(s), setValues(s2)); diff != "" {
		t.Fatalf("round trip (-parsed +reparsed):\n%s\n%s", diff, out)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := Parse([]byte(tt.in), "t.nspawn")
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, s)
		})
	}
	var cmd Settings
	for k, v := range map[string]string{"Bind": "/a b\\:/c d", "Parameters": `x "y z" '"' "'" '"'"'"`, "Environment": `A="1 2"`} {
		if err := cmd.SetFromCommandLine(k, v); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip(t, &cmd)
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add([]byte(tt.in))
	}
	for _, s := range []string{
		"[Exec]\nBoot=y\x00es\n", "[/../]\nBind=/\n", "[Files]\nOverlay=/::/\n", "[Exec]\r\nBoot=yes\r\n",
		"[Network]\nPort=18446744073709551616\n", "[Exec]\nLimitNOFILE=-1\n", "[Exec]\nKillSignal=RTMIN+99\n",
		"[Exec]\nCPUAffinity=0-8191\n", "[Files]\nBind=\\", "\\\n\\\n", "[Exec]\nPrivateUsers=4294967295\n",
		"[Files]\n" + strings.Repeat("Bind=/a:/b\n", 100),
		"[Files]\n" + strings.Repeat("Bind=/a:/b\n", 100_000),
		"[Exec]\nParameters=" + strings.Repeat("x ", 40_000) + "\n",
		"\xff\xfe[Exec]\n", "[Exec]\nBoot=yes\\",
		// Last fields that end in whitespace before a colon.
		"[Files]\nBind= :/ :", "[Files]\nBind=/a:/b\v:", "[Files]\nTemporaryFileSystem=/a :\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _, err := Parse(data, "fuzz.nspawn")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		roundTrip(t, s)
		u, _ := Untrusted(s)
		_ = Merge(new(Settings), &File{Path: "f", Settings: u}, ModeOverride).String()
	})
}
