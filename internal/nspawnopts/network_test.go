package nspawnopts

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/capset"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/google/go-cmp/cmp"
)

func TestParseNetwork(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		private bool
		want    Network
	}{
		{"none", nil, false, Network{}},
		{"veth", []string{"-n"}, true, Network{Veth: true}},
		{"bridge implies veth", []string{"--network-bridge=br0"}, true, Network{Veth: true, Bridge: "br0"}},
		{"zone implies veth", []string{"--network-zone=lab"}, true, Network{Veth: true, Zone: "lab"}},
		{"veth extra", []string{"--network-veth-extra=a", "--network-veth-extra=b:c"}, true,
			Network{VethExtra: []VethPair{{"a", "a"}, {"b", "c"}}}},
		{"interface", []string{"--network-interface=dummy0"}, true, Network{Interfaces: []string{"dummy0"}}},
		{"namespace path with private network", []string{"--private-network", "--network-namespace-path=/run/netns/x"},
			true, Network{NamespacePath: "/run/netns/x"}},
		{"ports", []string{"-n", "-p", "80", "--port=udp:53:5353", "-p", "tcp:8080:80"}, true,
			Network{Veth: true, Ports: []Port{{"tcp", 80, 80}, {"udp", 53, 5353}, {"tcp", 8080, 80}}}},
		{"port with private network", []string{"--private-network", "-p", "1"}, true,
			Network{Ports: []Port{{"tcp", 1, 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(append([]string{"-D", "/srv/img"}, tt.args...), testEnv)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.Network); diff != "" {
				t.Errorf("network (-want +got):\n%s", diff)
			}
			if c.PrivateNetwork != tt.private {
				t.Errorf("PrivateNetwork = %v, want %v", c.PrivateNetwork, tt.private)
			}
		})
	}
}

func TestParseNetworkErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--network-bridge=br0", "--network-zone=z"}, "may not be combined"},
		{[]string{"-p", "80"}, "without private networking"},
		{[]string{"--network-namespace-path=/x", "-p", "80"}, "without private networking"},
		{[]string{"-n", "-p", "0"}, "invalid host port"},
		{[]string{"-n", "-p", "65536"}, "invalid host port"},
		{[]string{"-n", "-p", "sctp:80"}, "invalid host port"},
		{[]string{"-n", "-p", "80:"}, "invalid container port"},
		{[]string{"-n", "-p", "80:x"}, "invalid container port"},
		{[]string{"-n", "-p", "80:1:2"}, "invalid container port"},
		{[]string{"-n", "-p", "+80"}, "invalid host port"},
		{[]string{"-n", "-p", "80", "-p", "tcp:80:81"}, "duplicate host port"},
		{[]string{"--network-zone=thirteenchars"}, "invalid zone name"},
		{[]string{"--network-zone=a/b"}, "invalid zone name"},
		{[]string{"--network-bridge=a b"}, "invalid interface name"},
		{[]string{"--network-interface=123"}, "invalid interface name"},
		{[]string{"--network-veth-extra=sixteencharsxxxx"}, "invalid interface pair"},
		{[]string{"--network-veth-extra=a:"}, "invalid interface pair"},
		{[]string{"-n", "--network-namespace-path=/x"}, "cannot be combined"},
		{[]string{"--network-interface=eth1", "--network-namespace-path=/x"}, "cannot be combined"},
		{[]string{"--network-namespace-path=rel"}, "absolute path"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := Parse(append([]string{"-D", "/srv/img"}, tt.args...), testEnv)
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want a one-line usage error containing %q", err, tt.want)
			}
		})
	}
}

func TestValidIfname(t *testing.T) {
	for s, want := range map[string]bool{
		"eth0": true, "ve-abcdefghijkl": true, "ve-abcdefghijklm": false, "": false, ".": false,
		"..": false, "a:b": false, "a/b": false, "a b": false, "42": false, "4x": true, "a%d": false,
	} {
		if got := ValidIfname(s); got != want {
			t.Errorf("ValidIfname(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzParsePort(f *testing.F) {
	for _, s := range []string{"80", "tcp:80", "udp:53:5353", "0", "65536", "80:", ":80", "tcp:", "udp:1:2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePort(s)
		if err != nil {
			return
		}
		if p.Host == 0 || p.Container == 0 || (p.Protocol != "tcp" && p.Protocol != "udp") {
			t.Fatalf("ParsePort(%q) = %+v", s, p)
		}
	})
}

func TestApplySettingsNetwork(t *testing.T) {
	tests := []struct {
		name, file string
		args       []string
		want       Network
		private    bool
	}{
		{"zone and ports from the file", "[Network]\nZone=lab\nPort=8080:80\nPort=udp:53\n", nil,
			Network{Veth: true, Zone: "lab", Ports: []Port{{"tcp", 8080, 80}, {"udp", 53, 53}}}, true},
		{"veth and extra from the file", "[Network]\nVirtualEthernet=yes\nVirtualEthernetExtra=a:b\n", nil,
			Network{Veth: true, VethExtra: []VethPair{{"a", "b"}}}, true},
		{"the command line wins", "[Network]\nZone=lab\n", []string{"--network-bridge=br0"},
			Network{Veth: true, Bridge: "br0"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := paths.Under(t.TempDir())
			if err := os.MkdirAll(p.SettingsTrusted[0], 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(p.SettingsTrusted[0], "m.nspawn"), []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Parse(append([]string{"-D", t.TempDir(), "-M", "m"}, tt.args...), testEnv)
			if err != nil {
				t.Fatal(err)
			}
			if err := ApplySettings(&c, p, io.Discard); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.Network); diff != "" {
				t.Errorf("network (-want +got):\n%s", diff)
			}
			if c.PrivateNetwork != tt.private || c.Caps&capset.NetAdmin == 0 {
				t.Errorf("PrivateNetwork = %v (caps %v), want %v with CAP_NET_ADMIN", c.PrivateNetwork, c.Caps, tt.private)
			}
		})
	}
}
