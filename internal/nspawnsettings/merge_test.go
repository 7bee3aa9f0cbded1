package nspawnsettings

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMergePrecedence(t *testing.T) {
	const fileName = "/etc/systemd/nspawn/m.nspawn"
	type kv = map[string]string
	tests := []struct {
		name    string
		file    string
		trusted bool
		cmd     kv
		want    map[Mode]kv // key → "value@origin" for the keys of interest
	}{
		{
			name: "machine id", trusted: true,
			file: "[Exec]\nMachineID=11111111111111111111111111111111\n",
			cmd:  kv{"MachineID": "22222222222222222222222222222222"},
			want: map[Mode]kv{
				ModeYes:      {"MachineID": "22222222222222222222222222222222@command line"},
				ModeOverride: {"MachineID": "11111111111111111111111111111111@" + fileName + ":2"},
				ModeTrusted:  {"MachineID": "22222222222222222222222222222222@command line"},
				ModeNo:       {"MachineID": "22222222222222222222222222222222@command line"},
			},
		},
		{
			name: "group mask", trusted: true,
			file: "[Exec]\nBoot=yes\nHostname=f\n",
			cmd:  kv{"Parameters": "sh"},
			want: map[Mode]kv{
				ModeYes:      {"Boot": "no@default", "Parameters": "sh@command line", "Hostname": "f@" + fileName + ":3"},
				ModeOverride: {"Boot": "yes@" + fileName + ":2", "Parameters": "sh@command line", "Hostname": "f@" + fileName + ":3"},
				ModeTrusted:  {"Boot": "no@default", "Parameters": "sh@command line", "Hostname": "f@" + fileName + ":3"},
				ModeNo:       {"Boot": "no@default", "Parameters": "sh@command line", "Hostname": "@default"},
			},
		},
		{
			name: "parameters need a start mode", trusted: true,
			file: "[Exec]\nParameters=/bin/true\n",
			cmd:  kv{},
			want: map[Mode]kv{
				ModeYes:      {"Parameters": "@default"},
				ModeOverride: {"Parameters": "@default"},
				ModeTrusted:  {"Parameters": "@default"},
				ModeNo:       {"Parameters": "@default"},
			},
		},
		{
			name: "parameters with boot", trusted: true,
			file: "[Exec]\nBoot=no\nParameters=/bin/true\n",
			cmd:  kv{},
			want: map[Mode]kv{
				ModeYes:      {"Parameters": "/bin/true@" + fileName + ":3"},
				ModeOverride: {"Parameters": "/bin/true@" + fileName + ":3"},
				ModeTrusted:  {"Parameters": "/bin/true@" + fileName + ":3"},
				ModeNo:       {"Parameters": "@default"},
			},
		},
		{
			name: "untrusted file", trusted: false,
			file: "[Files]\nBind=/srv\n[Network]\nPort=80\n",
			cmd:  kv{"Port": "8080"},
			want: map[Mode]kv{
				ModeYes:      {"Bind": "@default", "Port": "tcp:8080:8080@command line"},
				ModeOverride: {"Bind": "@default", "Port": "tcp:8080:8080@command line"},
				ModeTrusted:  {"Bind": "/srv:/srv@" + fileName + ":2", "Port": "tcp:8080:8080@command line"},
				ModeNo:       {"Bind": "@default", "Port": "tcp:8080:8080@command line"},
			},
		},
		{
			name: "private users digits", trusted: true,
			file: "[Exec]\nPrivateUsers=0\n",
			cmd:  kv{},
			want: map[Mode]kv{
				ModeYes:      {"PrivateUsers": "no@" + fileName + ":2"},
				ModeOverride: {"PrivateUsers": "no@" + fileName + ":2"},
				ModeTrusted:  {"PrivateUsers": "no@" + fileName + ":2"},
				ModeNo:       {"PrivateUsers": "no@default"},
			},
		},
		{
			name: "private users command line", trusted: true,
			file: "[Exec]\nPrivateUsers=pick\n",
			cmd:  kv{"PrivateUsers": "0"},
			want: map[Mode]kv{
				ModeYes:      {"PrivateUsers": "0:65536@command line", "PrivateUsersOwnership": "auto@default"},
				ModeOverride: {"PrivateUsers": "pick@" + fileName + ":2", "PrivateUsersOwnership": "chown@" + fileName + ":2"},
				ModeTrusted:  {"PrivateUsers": "0:65536@command line", "PrivateUsersOwnership": "auto@default"},
				ModeNo:       {"PrivateUsers": "0:65536@command line", "PrivateUsersOwnership": "auto@default"},
			},
		},
	}
	for _, tt := range tests {
		for mode, want := range tt.want {
			t.Run(tt.name+"/"+mode.String(), func(t *testing.T) {
				s, _, err := Parse([]byte(tt.file), fileName)
				if err != nil {
					t.Fatal(err)
				}
				var cmd Settings
				for k, v := range tt.cmd {
					if err := cmd.SetFromCommandLine(k, v); err != nil {
						t.Fatal(err)
					}
				}
				eff := Merge(&cmd, &File{Path: fileName, Trusted: tt.trusted, Settings: s}, mode)
				got := kv{}
				for k := range want {
					e, _ := eff.Settings.Lookup(k)
					got[k] = e.Value + "@" + e.Origin.String()
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"yes": ModeYes, "no": ModeNo, "override": ModeOverride, "trusted": ModeTrusted, "1": ModeYes, "off": ModeNo} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseMode("sometimes"); err == nil {
		t.Error("ParseMode accepted garbage")
	}
}

func TestMergeDoesNotAlias(t *testing.T) {
	var cmd Settings
	if err := cmd.SetFromCommandLine("Bind", "/a"); err != nil {
		t.Fatal(err)
	}
	eff := Merge(&cmd, nil, ModeYes)
	if err := eff.Settings.SetFromCommandLine("Bind", "/b"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.SetFromCommandLine("Bind", "/c"); err != nil {
		t.Fatal(err)
	}
	if got := formatList(eff.Settings.Bind.Value); got != "/a:/a /b:/b" {
		t.Errorf("merged binds = %q", got)
	}
}
