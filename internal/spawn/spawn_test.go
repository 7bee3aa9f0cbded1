package spawn

import (
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBaseAndUserEnv(t *testing.T) {
	host := map[string]string{"ID": "debian", "VERSION_ID": "12", "NAME": "Debian"}
	base := baseEnv(false, "u-1", "", host)
	got := userEnv(base, "/root", "root", []string{"LANG=C", "X=1"})
	want := []string{
		"PATH=" + DefaultPath, "container=systemd-nspawn", "TERM=vt220", "container_uuid=u-1",
		"NOTIFY_SOCKET=/run/host/notify", "LANG=C", "container_host_id=debian",
		"container_host_version_id=12", "HOME=/root", "USER=root", "LOGNAME=root", "X=1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if boot := baseEnv(true, "u", "xterm", nil); lookupEnv(boot, "LANG") != "" || lookupEnv(boot, "TERM") != "xterm" {
		t.Errorf("boot env %v: want no LANG and the host TERM", boot)
	}
}

func TestJudge(t *testing.T) {
	exited := func(code int) syscall.WaitStatus { return syscall.WaitStatus(code << 8) }
	signaled := func(sig syscall.Signal) syscall.WaitStatus { return syscall.WaitStatus(sig) }
	tests := []struct {
		name   string
		ws     syscall.WaitStatus
		code   int
		reboot bool
	}{
		{"success", exited(0), 0, false},
		{"failure passes through", exited(3), 3, false},
		{"poweroff", signaled(syscall.SIGINT), 0, false},
		{"reboot", signaled(syscall.SIGHUP), 0, true},
		{"killed", signaled(syscall.SIGKILL), 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := judge("m", tc.ws)
			if o.code != tc.code || o.reboot != tc.reboot || o.msg == "" {
				t.Errorf("judge = %+v, want code %d reboot %v", o, tc.code, tc.reboot)
			}
		})
	}
}

func TestParseOSRelease(t *testing.T) {
	got := ParseOSRelease([]byte("# c\nID=debian\nVERSION_ID=\"12\"\nNAME='Debian GNU/Linux'\nbad\n K=v\nE=\"a\\\"b\"\n"))
	want := map[string]string{"ID": "debian", "VERSION_ID": "12", "NAME": "Debian GNU/Linux", "E": `a"b`, "K": "v"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseOSRelease (-want +got):\n%s", diff)
	}
}

func TestHasReady(t *testing.T) {
	for msg, want := range map[string]bool{"READY=1": true, "STATUS=x\nREADY=1\n": true, "READY=0": false, "XREADY=1": false} {
		if hasReady(msg) != want {
			t.Errorf("hasReady(%q) = %v", msg, !want)
		}
	}
}

func FuzzParseOSRelease(f *testing.F) {
	f.Add([]byte("ID=debian\nVERSION_ID=\"12\"\n"))
	f.Add([]byte("A='\n=\"\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for k := range ParseOSRelease(data) {
			if k == "" {
				t.Errorf("empty key from %q", data)
			}
		}
	})
}

func FuzzHasReady(f *testing.F) {
	f.Add("READY=1\nSTATUS=ok")
	f.Fuzz(func(t *testing.T, msg string) { _ = hasReady(msg) })
}

func TestCopyInputEscape(t *testing.T) {
	tests := []struct {
		in       string
		wantOut  string
		wantKill bool
	}{
		{"abc", "abc", false},
		{"a\x1d\x1db\x1d", "a\x1d\x1db\x1d", false},
		{"x\x1d\x1d\x1dy", "", true},
	}
	for _, tc := range tests {
		var out strings.Builder
		killed := false
		copyInput(&out, strings.NewReader(tc.in), func() { killed = true })
		if out.String() != tc.wantOut || killed != tc.wantKill {
			t.Errorf("copyInput(%q) wrote %q, killed %v; want %q, %v", tc.in, out.String(), killed, tc.wantOut, tc.wantKill)
		}
	}
}
