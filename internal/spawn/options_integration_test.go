package spawn_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// optionCase is one run of berth-nspawn on a busybox image.
type optionCase struct {
	name string
	// args follow the common options; setup may add more first.
	args  []string
	setup func(t *testing.T, img string) []string
	// want is the trimmed standard output; wantCode the exit status.
	want     string
	wantCode int
	// wantErr must appear in standard error when set.
	wantErr string
	// check inspects the host after the run.
	check func(t *testing.T, img string)
}

func runOptionCases(t *testing.T, cases []optionCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img, common := busybox(t)
			args := append([]string{}, common...)
			if tc.setup != nil {
				args = append(args, tc.setup(t, img)...)
			}
			r := nspawn(t, nil, append(args, tc.args...)...)
			if got := strings.TrimSpace(r.stdout); got != tc.want || r.code != tc.wantCode {
				t.Errorf("got %q, status %d; want %q, status %d\nstderr: %s", got, r.code, tc.want, tc.wantCode, r.stderr)
			}
			if tc.wantErr != "" && !strings.Contains(r.stderr, tc.wantErr) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, img)
			}
		})
	}
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func TestIntegrationBasics(t *testing.T) {
	runOptionCases(t, []optionCase{
		{name: "exit status passes through", args: append([]string{"-M", "t-exit"}, sh("echo hi; exit 3")...), want: "hi", wantCode: 3},
		{name: "command is PID 1", args: append([]string{"-M", "t-pid"}, sh("echo $$")...), want: "1"},
		{name: "hostname defaults to the machine name", args: []string{"-M", "t-host", "/bin/hostname"}, want: "t-host"},
		{name: "--hostname", args: []string{"-M", "t-host2", "--hostname=other.example", "/bin/hostname"}, want: "other.example"},
		{name: "machine name from the directory", args: []string{"/bin/hostname"}, want: "busybox"},
		{name: "command looked up in PATH", args: []string{"-M", "t-path", "echo", "a", "b"}, want: "a b"},
		{name: "--chdir", args: []string{"-M", "t-chdir", "--chdir=/tmp", "/bin/pwd"}, want: "/tmp"},
		{name: "-E sets and overrides", args: append([]string{"-M", "t-env", "-E", "FOO=bar", "-E", "LANG=C"}, sh("echo $FOO $LANG")...), want: "bar C"},
		{name: "-u switches user", args: append([]string{"-M", "t-user", "-u", "daemon"}, sh("id -u; id -g; echo $HOME $USER")...), want: "1\n1\n/usr/sbin daemon"},
		{name: "--uuid", args: append([]string{"-M", "t-uuid", "--uuid=0123456789abcdef0123456789abcdef"}, sh("echo $container_uuid; cat /run/host/container-uuid")...),
			want: "01234567-89ab-cdef-0123-456789abcdef\n01234567-89ab-cdef-0123-456789abcdef"},
		{name: "machine-id in the image wins over --uuid", args: append([]string{"-M", "t-mid", "--uuid=0123456789abcdef0123456789abcdef"}, sh("echo $container_uuid")...),
			setup: func(t *testing.T, img string) []string {
				writeFile(t, filepath.Join(img, "etc/machine-id"), "fedcba9876543210fedcba9876543210\n")
				return nil
			}, want: "fedcba98-7654-3210-fedc-ba9876543210"},
		{name: "-a runs the command as PID 2", args: append([]string{"-M", "t-pid2", "-a"}, sh("[ $$ = 2 ] && echo two || echo other; cat /proc/1/comm >/dev/null && echo init; exit 4")...), want: "two\ninit", wantCode: 4},
		{name: "-a reaps orphans", args: append([]string{"-M", "t-reap", "-a"}, sh("(sleep 0.2 &) ; sleep 0.5; ps -o stat,comm | grep -c ^Z")...), want: "0", wantCode: 1},
		{name: "--no-new-privileges", args: append([]string{"-M", "t-nnp", "--no-new-privileges=yes"}, sh("grep NoNewPrivs /proc/self/status")...), want: "NoNewPrivs:\t1"},
		{name: "--private-network has only lo", args: append([]string{"-M", "t-net", "--private-network"}, sh("ls /sys/class/net")...), want: "lo"},
		{name: "--drop-capability", args: append([]string{"-M", "t-cap", "--drop-capability=CAP_SYS_ADMIN,CAP_NET_RAW"}, sh("grep CapBnd /proc/self/status")...), want: "CapBnd:\t00000000fccc8fff"},
		{name: "--capability adds", args: append([]string{"-M", "t-cap2", "--capability=CAP_NET_ADMIN,CAP_SYS_MODULE"}, sh("grep CapBnd /proc/self/status")...), want: "CapBnd:\t00000000fcedbfff"},
		{name: "drops win over adds", args: append([]string{"-M", "t-cap3", "--drop-capability=all", "--capability=CAP_CHOWN"}, sh("grep CapBnd /proc/self/status")...), want: "CapBnd:\t0000000000000000"},
		{name: "only fds 0-2 reach the payload", args: append([]string{"-M", "t-fds"}, sh("ls /proc/1/fd; readlink /proc/1/cwd")...), want: "0\n1\n2\n/"},
		{name: "missing command", args: []string{"-M", "t-nocmd", "/bin/nope"}, wantCode: 1, wantErr: "/bin/nope not found"},
		{name: "unknown user", args: []string{"-M", "t-nouser", "-u", "nobody2", "/bin/true"}, wantCode: 1, wantErr: "no such user"},
		{name: "-b without an init", args: []string{"-M", "t-noinit", "-b"}, wantCode: 1, wantErr: "no init found",
			setup: func(t *testing.T, img string) []string {
				os.Remove(filepath.Join(img, "sbin/init"))
				return nil
			}},
	})
}

func TestIntegrationEnvironment(t *testing.T) {
	_, common := busybox(t)
	r := nspawn(t, []string{"TERM=dumb"}, append(common, "-M", "t-envall", "env")...)
	if r.code != 0 {
		t.Fatalf("status %d: %s", r.code, r.stderr)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		n, v, _ := strings.Cut(l, "=")
		if n == "TERM" && v != "dumb" || n == "container" && v != "systemd-nspawn" {
			t.Errorf("%s", l)
		}
		names = append(names, n)
	}
	want := []string{"HOME", "LANG", "LOGNAME", "NOTIFY_SOCKET", "PATH", "TERM", "USER", "container", "container_host_id", "container_host_version_id", "container_uuid"}
	if diff := cmp.Diff(want, sorted(names)); diff != "" {
		t.Errorf("environment names (-want +got):\n%s", diff)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
