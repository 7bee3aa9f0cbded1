package stopsignal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
)

// entry is one file of a fake image: a symbolic link when link is set,
// else a regular file with content.
type entry struct{ path, link, content string }

func makeRoot(t *testing.T, entries []entry) string {
	t.Helper()
	root := t.TempDir()
	for _, e := range entries {
		p := filepath.Join(root, e.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if e.link != "" {
			err = os.Symlink(e.link, p)
		} else {
			err = os.WriteFile(p, []byte(e.content), 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		want    Init
	}{
		{"systemd link", []entry{{path: "lib/systemd/systemd", content: "x"}, {path: "sbin/init", link: "/lib/systemd/systemd"}}, Systemd},
		{"systemd beats sysvinit", []entry{{path: "usr/lib/systemd/systemd", content: "x"}, {path: "sbin/init", content: "INIT_VERSION"}}, Systemd},
		{"busybox absolute link", []entry{{path: "bin/busybox", content: "x"}, {path: "sbin/init", link: "/bin/busybox"}}, Busybox},
		{"busybox relative link", []entry{{path: "bin/busybox", content: "x"}, {path: "sbin/init", link: "../bin/busybox"}}, Busybox},
		{"busybox copy", []entry{{path: "sbin/init", content: "\x7fELF...BusyBox v1.35.0..."}}, Busybox},
		{"link chain", []entry{{path: "bin/busybox", content: "x"}, {path: "bin/init", link: "busybox"}, {path: "sbin/init", link: "/bin/init"}}, Busybox},
		{"sysvinit", []entry{{path: "sbin/init", content: "\x7fELF INIT_VERSION=sysvinit-3.06"}}, SysV},
		{"openrc-init", []entry{{path: "sbin/openrc-init", content: "x"}, {path: "sbin/init", link: "openrc-init"}}, OpenRC},
		{"runit", []entry{{path: "sbin/runit-init", content: "x"}, {path: "sbin/init", link: "runit-init"}}, Runit},
		{"tini", []entry{{path: "sbin/init", link: "/usr/bin/tini"}, {path: "usr/bin/tini", content: "x"}}, Tini},
		{"dumb-init", []entry{{path: "sbin/init", link: "/usr/bin/dumb-init"}, {path: "usr/bin/dumb-init", content: "x"}}, DumbInit},
		{"unknown script", []entry{{path: "sbin/init", content: "#!/bin/sh\nexec sleep 1\n"}}, Unknown},
		// A link that climbs out of the image stays inside it: this
		// resolves to <root>/bin/busybox, never the host's.
		{"escape stays inside", []entry{{path: "bin/busybox", content: "x"}, {path: "sbin/init", link: "../../../../bin/busybox"}}, Busybox},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Detect(makeRoot(t, tt.entries))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(For(tt.want), got); diff != "" {
				t.Errorf("Detect (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDetectNoInit(t *testing.T) {
	for name, entries := range map[string][]entry{
		"empty":        nil,
		"dangling":     {{path: "sbin/init", link: "/nowhere"}},
		"self loop":    {{path: "sbin/init", link: "init"}},
		"out and back": {{path: "sbin/init", link: "/../../etc/passwd"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Detect(makeRoot(t, entries)); err == nil {
				t.Fatal("Detect succeeded")
			} else if name != "self loop" && !errors.Is(err, ErrNoInit) {
				t.Fatalf("Detect = %v, want ErrNoInit", err)
			}
		})
	}
}

func TestTable(t *testing.T) {
	tests := []struct {
		init             Init
		poweroff, reboot unix.Signal
	}{
		{Systemd, sigRTMin + 4, unix.SIGINT},
		{Busybox, unix.SIGUSR2, unix.SIGTERM},
		{SysV, sigPWR, unix.SIGINT},
		{Tini, unix.SIGTERM, 0},
		{"nonsense", unix.SIGTERM, unix.SIGINT},
	}
	for _, tt := range tests {
		got := For(tt.init)
		if got.PowerOff != tt.poweroff || got.Reboot != tt.reboot {
			t.Errorf("For(%s) = %v/%v, want %v/%v", tt.init, got.PowerOff, got.Reboot, tt.poweroff, tt.reboot)
		}
	}
	o := For(Busybox).Override(unix.SIGTERM, 0)
	if diff := cmp.Diff(Signals{Busybox, unix.SIGTERM, unix.SIGTERM}, o); diff != "" {
		t.Errorf("Override (-want +got):\n%s", diff)
	}
}

// TestIntegrationDetectImages checks the images the test bed builds: the
// busybox image boots busybox init, the Debian image systemd.
func TestIntegrationDetectImages(t *testing.T) {
	testbed.RequireRoot(t)
	for name, img := range map[string]func(testing.TB) string{"busybox": testbed.BusyboxImage, "debian": testbed.DebianImage} {
		t.Run(name, func(t *testing.T) {
			got, err := Detect(img(t))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]Init{"busybox": Busybox, "debian": Systemd}[name]
			if got.Init != want {
				t.Errorf("Detect = %s, want %s", got.Init, want)
			}
		})
	}
}
