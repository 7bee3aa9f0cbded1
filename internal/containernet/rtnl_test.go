package containernet

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestParseLink(t *testing.T) {
	a := attrs{b: ifinfomsg(7, 0, 0)}
	a.str(unix.IFLA_IFNAME, "vb-m")
	a.u32(unix.IFLA_MASTER, 3)
	a.nest(unix.IFLA_LINKINFO, nil, func(info *attrs) { info.add(unix.IFLA_INFO_KIND, []byte("veth")) })
	got, err := parseLink(a.b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(link{index: 7, master: 3, name: "vb-m", kind: "veth"}, got, cmp.AllowUnexported(link{})); diff != "" {
		t.Errorf("parseLink (-want +got):\n%s", diff)
	}
	for _, bad := range [][]byte{nil, a.b[:10], append(ifinfomsg(1, 0, 0), 0xff, 0x00, 0x03, 0x00)} {
		if _, err := parseLink(bad); err == nil {
			t.Errorf("parseLink(%x) succeeded, want an error", bad)
		}
	}
}

func FuzzParseLink(f *testing.F) {
	a := attrs{b: ifinfomsg(7, 0, 0)}
	a.str(unix.IFLA_IFNAME, "vb-m")
	a.nest(unix.IFLA_LINKINFO, nil, func(info *attrs) { info.add(unix.IFLA_INFO_KIND, []byte("bridge")) })
	f.Add(a.b)
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parseLink(b) })
}
