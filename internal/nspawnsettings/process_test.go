package nspawnsettings

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestProcess(t *testing.T) {
	adj := -500
	tests := []struct {
		name string
		file string
		want Process
	}{
		{name: "nothing", file: "[Exec]\nHostname=x\n"},
		{
			name: "every process key",
			file: "[Exec]\nLimitNOFILE=1024:4096\nLimitCORE=0\nPersonality=" + personalities()[0] +
				"\nOOMScoreAdjust=-500\nCPUAffinity=0-1 3\nSystemCallFilter=@mount\nSystemCallFilter=~@swap reboot\n",
			want: Process{
				Limits: func() (l [RlimitCount]*Rlimit) {
					l[RlimitNOFILE] = &Rlimit{Soft: 1024, Hard: 4096}
					l[RlimitCORE] = &Rlimit{}
					return l
				}(),
				Personality: personalities()[0], OOMScoreAdjust: &adj, CPUAffinity: CPUSet{0, 1, 3},
				SystemCallDeny: []string{"@swap", "reboot"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, err := Parse([]byte(tc.file), "m.nspawn")
			if err != nil {
				t.Fatal(err)
			}
			got := s.Process()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Process (-want +got):\n%s", diff)
			}
			if got.IsZero() != cmp.Equal(tc.want, Process{}) {
				t.Errorf("IsZero = %v", got.IsZero())
			}
		})
	}
}

func TestCheckSupported(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // substrings of the error, nil for none
	}{
		{name: "supported keys", file: "[Exec]\nLimitNOFILE=10\nSuppressSync=yes\nAmbientCapability=CAP_NET_RAW\nPivotRoot=/sysroot\nPersonality=" + personalities()[0] + "\n"},
		{name: "defaults written out", file: "[Exec]\nSuppressSync=no\nAmbientCapability=\n[Files]\nBindUser=\n"},
		{name: "allow list only", file: "[Exec]\nSystemCallFilter=@mount\n"},
		{name: "deny list", file: "[Exec]\nSystemCallFilter=~@reboot sethostname:EACCES\n"},
		{name: "unknown system call", file: "[Exec]\nSystemCallFilter=~nosuchcall\n", want: []string{"m.nspawn:2: SystemCallFilter=~nosuchcall", "unknown system call"}},
		{
			name: "several",
			file: "[Exec]\nAmbientCapability=CAP_NET_ADMIN\nPivotRoot=/sysroot\n[Files]\nBindUser=alice\n",
			want: []string{"m.nspawn:5: BindUser=alice"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, err := Parse([]byte(tc.file), "m.nspawn")
			if err != nil {
				t.Fatal(err)
			}
			err = s.CheckSupported()
			if (err != nil) != (tc.want != nil) || (err != nil && !errors.Is(err, ErrUnsupported)) {
				t.Fatalf("CheckSupported = %v, want an ErrUnsupported error: %v", err, tc.want != nil)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
