package spawn_test

import (
	"os"
	"path/filepath"
	"testing"
)

// hostDir makes a host directory with one file for bind tests.
func hostDir(t *testing.T, file, data string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, file), data)
	return dir
}

// notExist fails t when p exists.
func notExist(p string) func(t *testing.T, img string) {
	return func(t *testing.T, img string) {
		t.Helper()
		if _, err := os.Lstat(filepath.Join(img, p)); err == nil {
			t.Errorf("%s exists in the image after the run", p)
		}
	}
}

func TestIntegrationMounts(t *testing.T) {
	runOptionCases(t, []optionCase{
		{name: "--bind SRC:DST", args: append([]string{"-M", "t-bind"}, sh("cat /mnt/x/f; echo w > /mnt/x/g && echo rw")...),
			setup: func(t *testing.T, img string) []string {
				return []string{"--bind=" + hostDir(t, "f", "data\n") + ":/mnt/x"}
			},
			want: "data\nrw"},
		{name: "--bind-ro refuses writes", args: append([]string{"-M", "t-bindro"}, sh("cat /mnt/x/f; echo w > /mnt/x/g || echo ro")...),
			setup: func(t *testing.T, img string) []string {
				return []string{"--bind-ro=" + hostDir(t, "f", "data\n") + ":/mnt/x"}
			},
			want: "data\nro"},
		{name: "--bind SRC alone", args: append([]string{"-M", "t-bindsame"}, sh("ls $D")...),
			setup: func(t *testing.T, img string) []string {
				d := hostDir(t, "same", "")
				return []string{"--bind=" + d, "-E", "D=" + d}
			}, want: "same"},
		{name: "--bind +SRC inside the root", args: append([]string{"-M", "t-bindplus", "--bind=+/etc:/mnt/etc2"}, sh("cat /mnt/etc2/hostname")...), want: "busybox"},
		{name: "--bind empty SRC is a throw-away directory", args: append([]string{"-M", "t-bindtmp", "--bind=:/scratch"}, sh("touch /scratch/a && ls /scratch")...), want: "a"},
		{name: "--bind norbind leaves submounts out", args: append([]string{"-M", "t-norbind"}, sh("ls /mnt/r/sub; echo -; ls /mnt/n/sub")...),
			setup: func(t *testing.T, img string) []string {
				inner := hostDir(t, "inner", "")
				return []string{"--bind=" + inner + ":/mnt/a/sub", "--bind=+/mnt/a:/mnt/r", "--bind=+/mnt/a:/mnt/n:norbind"}
			}, want: "inner\n-"},
		{name: "--bind a file", args: append([]string{"-M", "t-bindfile"}, sh("cat /etc/motd")...),
			setup: func(t *testing.T, img string) []string {
				return []string{"--bind-ro=" + filepath.Join(hostDir(t, "motd", "hello"), "motd") + ":/etc/motd"}
			}, want: "hello"},
		{name: "--tmpfs", args: append([]string{"-M", "t-tmpfs", "--tmpfs=/srv/t:mode=0700"}, sh("stat -c %a /srv/t; awk '$5==\"/srv/t\"{print $(NF-2)}' /proc/self/mountinfo")...), want: "700\ntmpfs"},
		{name: "--inaccessible file", args: append([]string{"-M", "t-inacc", "--inaccessible=/etc/hostname"}, sh("stat -c %a /etc/hostname; wc -c < /etc/hostname; echo x > /etc/hostname || echo ro")...), want: "0\n0\nro"},
		{name: "--inaccessible directory", args: append([]string{"-M", "t-inaccd", "--inaccessible=/etc"}, sh("ls /etc 2>/dev/null | wc -l")...), want: "0"},
		{name: "--overlay-ro", args: append([]string{"-M", "t-ovl"}, sh("ls /mnt/o | sort | tr '\\n' ' '; touch /mnt/o/x || echo ro")...),
			setup: func(t *testing.T, img string) []string {
				return []string{"--overlay-ro=" + hostDir(t, "low", "") + ":" + hostDir(t, "high", "") + ":/mnt/o"}
			}, want: "high low ro"},
		{name: "--overlay with an upper directory", args: append([]string{"-M", "t-ovlw"}, sh("echo new > /mnt/o/n; ls /mnt/o | tr '\\n' ' '")...),
			setup: func(t *testing.T, img string) []string {
				upper := filepath.Join(t.TempDir(), "upper")
				os.Mkdir(upper, 0o755)
				t.Cleanup(func() {
					if data, _ := os.ReadFile(filepath.Join(upper, "n")); string(data) != "new\n" {
						t.Errorf("the write did not reach the upper directory")
					}
					if m, _ := filepath.Glob(filepath.Join(filepath.Dir(upper), ".#*")); len(m) > 0 {
						t.Errorf("work directory left: %v", m)
					}
				})
				return []string{"--overlay=" + hostDir(t, "low", "") + ":" + upper + ":/mnt/o"}
			}, want: "low n"},
		{name: "--overlay with a throw-away upper", args: append([]string{"-M", "t-ovlt"}, sh("echo new > /mnt/o/n; ls /mnt/o | tr '\\n' ' '")...),
			setup: func(t *testing.T, img string) []string {
				return []string{"--overlay=" + hostDir(t, "low", "") + "::/mnt/o"}
			}, want: "low n"},
		{name: "--read-only", args: append([]string{"-M", "t-ro", "--read-only"}, sh("touch /x || echo ro; touch /tmp/x && echo tmp")...), want: "ro\ntmp", check: notExist("x")},
		{name: "--volatile=state", args: append([]string{"-M", "t-vstate", "--volatile=state"}, sh("touch /x || echo ro; touch /var/x && echo var")...), want: "ro\nvar", check: notExist("var/x")},
		{name: "--volatile=overlay", args: append([]string{"-M", "t-vover", "--volatile=overlay"}, sh("touch /x && cat /etc/hostname")...), want: "busybox", check: notExist("x")},
		{name: "--ephemeral", args: append([]string{"-M", "t-eph", "-x"}, sh("rm /etc/hostname && touch /x && echo ok")...), want: "ok", check: notExist("x")},
		{name: "--resolv-conf=off --timezone=off", args: append([]string{"-M", "t-etcoff", "--resolv-conf=off", "--timezone=off"}, sh("ls /etc/resolv.conf /etc/localtime 2>&1 | grep -c 'No such'")...), want: "2"},
		{name: "--resolv-conf=bind-host", args: append([]string{"-M", "t-resbind", "--resolv-conf=bind-host"}, sh("echo x >> /etc/resolv.conf || echo ro")...), want: "ro"},
		{name: "--resolv-conf=auto with --private-network", args: append([]string{"-M", "t-resnet", "--private-network"}, sh("test -e /etc/resolv.conf || echo none")...), want: "none"},
		{name: "--template fills an empty directory", args: []string{"/bin/hostname"},
			setup: func(t *testing.T, img string) []string {
				dir := filepath.Join(t.TempDir(), "fromtpl")
				return []string{"--template=" + img, "-D", dir}
			}, want: "fromtpl"},
	})
}

func TestIntegrationBadValues(t *testing.T) {
	runOptionCases(t, []optionCase{
		{name: "invalid machine name", args: []string{"-M", "bad_name", "/bin/true"}, wantCode: 1, wantErr: `invalid machine name "bad_name"`},
		{name: "invalid hostname", args: []string{"-M", "t-bad1", "--hostname=-x", "/bin/true"}, wantCode: 1, wantErr: "invalid hostname"},
		{name: "zero uuid", args: []string{"-M", "t-bad2", "--uuid=00000000000000000000000000000000", "/bin/true"}, wantCode: 1, wantErr: "all zeros"},
		{name: "bad uuid", args: []string{"-M", "t-bad3", "--uuid=xyz", "/bin/true"}, wantCode: 1, wantErr: "invalid UUID"},
		{name: "-b with -a", args: []string{"-M", "t-bad4", "-b", "-a"}, wantCode: 1, wantErr: "may not be combined"},
		{name: "relative --chdir", args: []string{"-M", "t-bad5", "--chdir=tmp", "/bin/true"}, wantCode: 1, wantErr: "absolute"},
		{name: "bad kill signal", args: []string{"-M", "t-bad6", "--kill-signal=SIGFOO", "/bin/true"}, wantCode: 1, wantErr: "invalid signal"},
		{name: "bad volatile", args: []string{"-M", "t-bad7", "--volatile=maybe", "/bin/true"}, wantCode: 1, wantErr: "--volatile"},
		{name: "bad console", args: []string{"-M", "t-bad8", "--console=tv", "/bin/true"}, wantCode: 1, wantErr: "--console"},
		{name: "relative bind", args: []string{"-M", "t-bad9", "--bind=tmp:/x", "/bin/true"}, wantCode: 1, wantErr: "must be absolute"},
		{name: "bind option", args: []string{"-M", "t-bad10", "--bind=/tmp:/x:bogus", "/bin/true"}, wantCode: 1, wantErr: "unknown option"},
		{name: "bad capability", args: []string{"-M", "t-bad11", "--capability=CAP_FLY", "/bin/true"}, wantCode: 1, wantErr: "unknown capability"},
		{name: "bad register", args: []string{"-M", "t-bad12", "--register=perhaps", "/bin/true"}, wantCode: 1, wantErr: "--register"},
		{name: "bad resolv-conf", args: []string{"-M", "t-bad13", "--resolv-conf=magic", "/bin/true"}, wantCode: 1, wantErr: "--resolv-conf"},
		{name: "bad timezone", args: []string{"-M", "t-bad14", "--timezone=mars", "/bin/true"}, wantCode: 1, wantErr: "--timezone"},
		{name: "bad link-journal", args: []string{"-M", "t-bad15", "--link-journal=sideways", "/bin/true"}, wantCode: 1, wantErr: "--link-journal"},
		{name: "bad tmpfs", args: []string{"-M", "t-bad16", "--tmpfs=rel", "/bin/true"}, wantCode: 1, wantErr: "--tmpfs"},
		{name: "bad no-new-privileges", args: []string{"-M", "t-bad17", "--no-new-privileges=sure", "/bin/true"}, wantCode: 1, wantErr: "--no-new-privileges"},
		{name: "unknown option", args: []string{"-M", "t-bad18", "--frobnicate", "/bin/true"}, wantCode: 1, wantErr: "unknown flag"},
		{name: "missing directory", args: []string{"-D", "/nonexistent/berth", "/bin/true"}, wantCode: 1, wantErr: "does not exist"},
		{name: "ephemeral with volatile", args: []string{"-M", "t-bad19", "-x", "--volatile=yes", "/bin/true"}, wantCode: 1, wantErr: "may not be combined"},
	})
	if left := cgroupLeftovers(t, "t-bad"); len(left) > 0 {
		t.Errorf("cgroups left behind: %v", left)
	}
}
