package spawn_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/google/go-cmp/cmp"
)

func TestIntegrationSettingsFile(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "marker"), "from the bind\n")
	file := "[Exec]\nHostname=fromfile\n[Files]\nBind=" + src + ":/mnt\n"
	const script = "hostname; cat /mnt/marker 2>/dev/null || echo no bind"
	tests := []struct {
		name    string
		trusted bool
		flags   []string
		want    string
		warn    string
	}{
		{name: "untrusted next to the image", want: "fromfile\nno bind\n", warn: "ignoring Bind="},
		{name: "trusted in /run/systemd/nspawn", trusted: true, want: "fromfile\nfrom the bind\n"},
		{name: "command line masks the file", trusted: true, flags: []string{"--hostname=cmd"}, want: "cmd\nfrom the bind\n"},
		{name: "override lets the file win", trusted: true, flags: []string{"--hostname=cmd", "--settings=override"}, want: "fromfile\nfrom the bind\n"},
		{name: "no ignores the file", trusted: true, flags: []string{"--settings=no"}, want: machineName(t, "settings") + "\nno bind\n"},
		{name: "trusted mode trusts the image's directory", flags: []string{"--settings=trusted"}, want: "fromfile\nfrom the bind\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := machineName(t, "settings")
			path := filepath.Join(filepath.Dir(img), name+".nspawn")
			if tc.trusted {
				path = filepath.Join("/run/systemd/nspawn", name+".nspawn")
			}
			writeFile(t, path, file)
			t.Cleanup(func() { os.Remove(path) })
			args := append([]string{"-q", "--pipe", "--register=no", "-D", img, "-M", name}, tc.flags...)
			r := nspawn(t, nil, append(args, "/bin/sh", "-c", script)...)
			if r.code != 0 || r.stdout != tc.want {
				t.Errorf("exit %d, stdout %q, want %q (stderr %q)", r.code, r.stdout, tc.want, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.warn) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.warn)
			}
		})
	}
}

func TestIntegrationSettingsMalformed(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	name := machineName(t, "malformed")
	path := filepath.Join(filepath.Dir(img), name+".nspawn")
	writeFile(t, path, "[Exec]\nBoot=maybe\n")
	r := nspawn(t, nil, "--pipe", "--register=no", "-D", img, "-M", name, "/bin/sh", "-c", "echo started")
	if r.code != 1 || strings.Contains(r.stdout, "started") || !strings.Contains(r.stderr, name+".nspawn:2") {
		t.Errorf("exit %d, stdout %q, stderr %q; want a refusal naming the file and line", r.code, r.stdout, r.stderr)
	}
}

func TestIntegrationSettingsPrivateUsers(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	name := machineName(t, "settingsusers")
	p, env := privateRoot(t)
	writeFile(t, filepath.Join(p.Root, "run/systemd/nspawn", name+".nspawn"), "[Exec]\nPrivateUsers=pick\n[Files]\nPrivateUsersOwnership=map\n")
	before := manifest(t, img)
	r := nspawn(t, env, "-q", "--pipe", "--register=no", "--resolv-conf=off", "--timezone=off", "--link-journal=no", "-D", img, "-M", name, "/bin/cat", "/proc/self/uid_map")
	if r.code != 0 {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if base := rangeBase(t, r.stdout); base == 0 {
		t.Errorf("uid_map %q: no user namespace from the file", r.stdout)
	}
	// Entries the run adds (such as /var/log/journal) do not matter; the
	// ownership of those there before must not change.
	after := manifest(t, img)
	for p := range after {
		if _, ok := before[p]; !ok {
			delete(after, p)
		}
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("map from the file changed the image (-before +after):\n%s", diff)
	}
}

func TestIntegrationSettingsProcess(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	const id = "0123456789abcdef0123456789abcdef"
	file := "[Exec]\nLimitNOFILE=1234:5678\nLimitCORE=4K\nPersonality=x86\nOOMScoreAdjust=321\nCPUAffinity=0\nMachineID=" + id + "\n"
	const script = `grep -E '^Max (open files|core file size)' /proc/self/limits | tr -s ' ' | sed 's/ $//'; uname -m; cat /proc/self/oom_score_adj; ` +
		`grep Cpus_allowed_list /proc/self/status | tr -d '\t'; echo "$container_uuid"`
	tests := []struct {
		name    string
		trusted bool
		want    []string
		warn    string
	}{
		{
			name: "trusted", trusted: true,
			want: []string{"Max core file size 4096 4096 bytes", "Max open files 1234 5678 files", "i686", "321",
				"Cpus_allowed_list:0", "01234567-89ab-cdef-0123-456789abcdef"},
		},
		{name: "untrusted applies Personality= only", want: []string{"i686", "0"}, warn: "ignoring LimitNOFILE="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if runtime.GOARCH != "amd64" {
				testbed.Unavailable(t, "Personality=x86 needs an x86-64 host")
			}
			name := machineName(t, "process")
			path := filepath.Join(filepath.Dir(img), name+".nspawn")
			if tc.trusted {
				path = filepath.Join("/run/systemd/nspawn", name+".nspawn")
			}
			writeFile(t, path, file)
			t.Cleanup(func() { os.Remove(path) })
			r := nspawn(t, nil, "-q", "--pipe", "--register=no", "-D", img, "-M", name, "/bin/sh", "-c", script)
			if r.code != 0 {
				t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
			}
			got := strings.Split(strings.TrimSpace(r.stdout), "\n")
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("output %q lacks the line %q", got, w)
				}
			}
			if !strings.Contains(r.stderr, tc.warn) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.warn)
			}
		})
	}
}

func TestIntegrationSettingsUnsupported(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	tests := []struct{ name, line, want string }{
		{name: "unknown system call", line: "[Exec]\nSystemCallFilter=~nosuchcall\n", want: ".nspawn:2: SystemCallFilter=~nosuchcall"},
		{name: "bind user", line: "[Files]\nBindUser=root\n", want: ".nspawn:2: BindUser=root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := machineName(t, "unsupported")
			path := filepath.Join("/run/systemd/nspawn", name+".nspawn")
			writeFile(t, path, tc.line)
			t.Cleanup(func() { os.Remove(path) })
			r := nspawn(t, nil, "-q", "--pipe", "--register=no", "-D", img, "-M", name, "/bin/sh", "-c", "echo started")
			if r.code != 1 || strings.Contains(r.stdout, "started") || !strings.Contains(r.stderr, tc.want) ||
				!strings.Contains(r.stderr, "not supported") {
				t.Errorf("exit %d, stdout %q, stderr %q; want a refusal naming %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}

func TestIntegrationSettingsNextToRawImage(t *testing.T) {
	testbed.RequireRoot(t)
	mkfs := testbed.RequireTool(t, "mkfs.ext4")
	dir := t.TempDir()
	name := machineName(t, "rawsettings")
	raw := filepath.Join(dir, name+".raw")
	if out, err := exec.Command(mkfs, "-q", "-d", testbed.BusyboxImage(t), raw, "64M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v: %s", err, out)
	}
	writeFile(t, filepath.Join(dir, name+".nspawn"), "[Exec]\nHostname=besideraw\nEphemeral=yes\n")
	r := nspawn(t, nil, "-q", "--pipe", "--register=no", "-i", raw, "/bin/hostname")
	if r.code != 0 || r.stdout != "besideraw\n" || !strings.Contains(r.stderr, "ignoring Ephemeral=") {
		t.Errorf("exit %d, stdout %q, stderr %q; want the untrusted file's hostname and its Ephemeral= ignored", r.code, r.stdout, r.stderr)
	}
}

func TestIntegrationSettingsEphemeral(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	name := machineName(t, "ephemeral")
	path := filepath.Join("/run/systemd/nspawn", name+".nspawn")
	writeFile(t, path, "[Exec]\nEphemeral=yes\n")
	t.Cleanup(func() { os.Remove(path) })
	r := nspawn(t, nil, "-q", "--pipe", "--register=no", "-D", img, "-M", name, "/bin/sh", "-c", "echo x > /written && cat /written")
	if r.code != 0 || r.stdout != "x\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(img, "written")); !os.IsNotExist(err) {
		t.Errorf("a write in an Ephemeral= machine reached the image: %v", err)
	}
}

func TestIntegrationSettingsSystemCallFilter(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	name := machineName(t, "seccomp")
	path := filepath.Join("/run/systemd/nspawn", name+".nspawn")
	writeFile(t, path, "[Exec]\nSystemCallFilter=~sethostname @swap\nSystemCallFilter=~chroot:EACCES\n")
	t.Cleanup(func() { os.Remove(path) })
	// Without the filter the machine may do all three (swapoff fails
	// with ENOENT only).
	const script = `hostname other 2>&1; swapoff /nonexistent 2>&1; chroot / /bin/true 2>&1; hostname`
	r := nspawn(t, nil, "-q", "--pipe", "--register=no", "-D", img, "-M", name, "/bin/sh", "-c", script)
	want := []string{"hostname: sethostname: Operation not permitted", "swapoff: /nonexistent: Operation not permitted",
		"chroot: can't change root directory to '/': Permission denied", name}
	if got := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || !cmp.Equal(got, want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want %q", r.code, got, r.stderr, want)
	}
}

func TestIntegrationSettingsSuppressSync(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	name := machineName(t, "nosync")
	path := filepath.Join("/run/systemd/nspawn", name+".nspawn")
	writeFile(t, path, "[Exec]\nSuppressSync=yes\n")
	t.Cleanup(func() { os.Remove(path) })
	r := nspawn(t, nil, "-q", "--pipe", "--register=no", "-D", img, "-M", name, "/bin/sh", "-c", "sync && grep ^Seccomp: /proc/self/status")
	if r.code != 0 || r.stdout != "Seccomp:\t2\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want a seccomp filter and sync succeeding", r.code, r.stdout, r.stderr)
	}
}
