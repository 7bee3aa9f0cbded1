package ctl

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/berthapi"
)

func TestPrintEffective(t *testing.T) {
	reply := effectiveReply{
		source: "unit", command: []string{"berth-nspawn", "-b", "-M", "web"},
		file: "/var/lib/machines/web.nspawn", mode: "override",
		rows: []berthapi.Setting{
			{Section: "Exec", Key: "Boot", Value: "yes", Origin: "command line"},
			{Section: "Exec", Key: "Hostname", Value: "h", Origin: "/var/lib/machines/web.nspawn:2"},
			{Section: "Files", Key: "ReadOnly", Value: "no", Origin: "default"},
		},
		warnings: []string{"/var/lib/machines/web.nspawn:3: ignoring LimitNOFILE=: privileged setting"},
	}
	tests := []struct {
		name          string
		all, noLegend bool
		want          string
	}{
		{
			name: "defaults hidden",
			want: "Command line (unit): berth-nspawn -b -M web\nSettings file: /var/lib/machines/web.nspawn (untrusted)\nSettings mode: override\n\n" +
				"SECTION KEY      VALUE ORIGIN\nExec    Boot     yes   command line\nExec    Hostname h     /var/lib/machines/web.nspawn:2\n\n2 settings listed.\n" +
				"\nWarnings:\n  /var/lib/machines/web.nspawn:3: ignoring LimitNOFILE=: privileged setting\n",
		},
		{
			name: "all without legend", all: true, noLegend: true,
			want: "Exec  Boot     yes command line\nExec  Hostname h   /var/lib/machines/web.nspawn:2\nFiles ReadOnly no  default\n" +
				"\nWarnings:\n  /var/lib/machines/web.nspawn:3: ignoring LimitNOFILE=: privileged setting\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			o := &options{out: &out, all: tc.all, noLegend: tc.noLegend}
			if err := o.printEffective(reply); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}
