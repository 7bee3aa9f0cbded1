package spawn_test

import (
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationTimezoneBindFollowsLink binds the host's zone over the
// file the image's /etc/localtime link leads to, as systemd-nspawn does,
// so the link stays a link.
func TestIntegrationTimezoneBindFollowsLink(t *testing.T) {
	img, base := busybox(t)
	host, err := os.ReadFile("/etc/localtime")
	if err != nil {
		testbed.Unavailable(t, "the host has no /etc/localtime: "+err.Error())
	}
	sum := md5.Sum(host)
	writeFile(t, filepath.Join(img, "usr/share/zoneinfo/Image/Zone"), "not the host's\n")
	if err := os.Symlink("../usr/share/zoneinfo/Image/Zone", filepath.Join(img, "etc/localtime")); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"--timezone=bind", "--read-only"} {
		t.Run(mode, func(t *testing.T) {
			r := nspawn(t, nil, append(base, "-M", machineName(t, "tzbind"), mode, "/bin/sh", "-c",
				"readlink /etc/localtime; md5sum /etc/localtime | cut -d' ' -f1")...)
			want := "../usr/share/zoneinfo/Image/Zone\n" + hex.EncodeToString(sum[:]) + "\n"
			if r.code != 0 || r.stdout != want {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
			}
		})
	}
	if data, _ := os.ReadFile(filepath.Join(img, "usr/share/zoneinfo/Image/Zone")); string(data) != "not the host's\n" {
		t.Errorf("the image's zone file changed: %q", data)
	}
}
