package spawn_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/google/go-cmp/cmp"
)

// capLines runs "grep Cap /proc/self/status" in a container and returns
// the Cap* lines by name.
func capLines(t *testing.T, env []string, args ...string) (map[string]string, result) {
	t.Helper()
	r := nspawn(t, env, append(args, "/bin/sh", "-c", "grep ^Cap /proc/self/status")...)
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			got[k] = strings.TrimSpace(v)
		}
	}
	return got, r
}

func TestIntegrationAmbientCapability(t *testing.T) {
	_, base := busybox(t)
	_, usersEnv := privateRoot(t)
	const netRaw = "0000000000002000"        // CAP_NET_RAW
	const netRawAndBind = "0000000000002400" // + CAP_NET_BIND_SERVICE
	const withSysTime = "0000000002002000"   // CAP_NET_RAW + CAP_SYS_TIME
	tests := []struct {
		name string
		env  []string
		args []string
		want map[string]string // the Cap* lines compared
	}{
		{name: "root", args: []string{"-M", "amb-root", "--ambient-capability=CAP_NET_RAW"},
			want: map[string]string{"CapAmb": netRaw}},
		{name: "unprivileged user", args: []string{"-M", "amb-user", "-u", "daemon", "--ambient-capability=CAP_NET_RAW,cap_net_bind_service"},
			want: map[string]string{"CapAmb": netRawAndBind, "CapPrm": netRawAndBind, "CapEff": netRawAndBind}},
		{name: "unprivileged user as PID 2", args: []string{"-M", "amb-pid2", "-a", "-u", "daemon", "--ambient-capability=CAP_NET_RAW"},
			want: map[string]string{"CapAmb": netRaw, "CapEff": netRaw}},
		{name: "user namespace", env: usersEnv, args: []string{"-M", "amb-userns", "-U", "-u", "daemon", "--ambient-capability=CAP_NET_RAW"},
			want: map[string]string{"CapAmb": netRaw, "CapEff": netRaw}},
		{name: "none by default", args: []string{"-M", "amb-none", "-u", "daemon"},
			want: map[string]string{"CapAmb": "0000000000000000", "CapEff": "0000000000000000"}},
		{name: "added to the bounding set", args: []string{"-M", "amb-bnd", "--capability=CAP_SYS_TIME", "-u", "daemon", "--ambient-capability=CAP_SYS_TIME,CAP_NET_RAW"},
			want: map[string]string{"CapAmb": withSysTime, "CapEff": withSysTime}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, r := capLines(t, tc.env, append(base, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			for k := range got {
				if _, ok := tc.want[k]; !ok {
					delete(got, k)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("capabilities (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIntegrationAmbientCapabilityFromFile(t *testing.T) {
	testbed.RequireRoot(t)
	img := testbed.BusyboxImage(t)
	name := machineName(t, "ambfile")
	path := filepath.Join("/run/systemd/nspawn", name+".nspawn")
	// CAP_SYS_TIME is not in the default set: the file's ambient set
	// is kept in the bounding set too, as nspawn does.
	writeFile(t, path, "[Exec]\nUser=daemon\nAmbientCapability=CAP_SYS_TIME\n")
	t.Cleanup(func() { os.Remove(path) })
	got, r := capLines(t, nil, "-q", "--pipe", "--register=no", "-D", img, "-M", name)
	const sysTime = 1 << 25
	bnd, _ := strconv.ParseUint(got["CapBnd"], 16, 64)
	want := map[string]string{"CapAmb": "0000000002000000", "CapEff": "0000000002000000"}
	if r.code != 0 || got["CapAmb"] != want["CapAmb"] || got["CapEff"] != want["CapEff"] || bnd&sysTime == 0 {
		t.Errorf("exit %d, stderr %q, capabilities %v; want %v and CAP_SYS_TIME bounded", r.code, r.stderr, got, want)
	}
	writeFile(t, path, "[Exec]\nAmbientCapability=all\n")
	r = nspawn(t, nil, "-q", "--pipe", "--register=no", "-D", img, "-M", name, "/bin/true")
	if r.code != 1 || !strings.Contains(r.stderr, "AmbientCapability= does not support the value all") {
		t.Errorf("AmbientCapability=all: exit %d, stderr %q; want a refusal", r.code, r.stderr)
	}
}

func TestIntegrationAmbientCapabilityRefused(t *testing.T) {
	_, base := busybox(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"all", []string{"--ambient-capability=all"}, "does not support the value all"},
		{"outside the capability set", []string{"--ambient-capability=CAP_SYS_TIME"}, "CAP_SYS_TIME are not in the container's capability set"},
		{"dropped", []string{"--drop-capability=CAP_NET_RAW", "--ambient-capability=CAP_NET_RAW"}, "not in the container's capability set"},
		{"boot", []string{"-b", "--ambient-capability=CAP_NET_RAW"}, "not useful with --boot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := nspawn(t, nil, append(append(base, tc.args...), "/bin/true")...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
}
