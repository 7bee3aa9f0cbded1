package machine1_test

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/machine1"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// callEnv makes the test binary run one call from unprivCalls and print
// the D-Bus error name (or OK) instead of running tests.
const callEnv = "BERTH_MACHINE1_TEST_CALL"

func TestMain(m *testing.M) {
	if spec := os.Getenv(callEnv); spec != "" {
		fmt.Print(runCall(spec))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type call struct {
	path   dbus.ObjectPath
	method string // interface.member
	args   []any
}

const (
	mgr = busName + ".Manager."
	mch = busName + ".Machine."
	img = busName + ".Image."
)

var (
	victimPath = machine1.MachinePath("victim")
	imagePath  = machine1.ImagePath("img1")
	noProps    = []struct {
		Name  string
		Value dbus.Variant
	}{}
)

// mutating lists every mutating method with well-typed arguments, aimed
// at a registered machine ("victim") and an existing image ("img1").
var mutating = []call{
	{machine1.ManagerPath, mgr + "CreateMachine", []any{"x1", []byte{}, "s", "container", uint32(0), "", noProps}},
	{machine1.ManagerPath, mgr + "CreateMachineWithNetwork", []any{"x1", []byte{}, "s", "container", uint32(0), "", []int32{}, noProps}},
	{machine1.ManagerPath, mgr + "RegisterMachine", []any{"x1", []byte{}, "s", "container", uint32(0), ""}},
	{machine1.ManagerPath, mgr + "RegisterMachineWithNetwork", []any{"x1", []byte{}, "s", "container", uint32(0), "", []int32{}}},
	{machine1.ManagerPath, mgr + "UnregisterMachine", []any{"victim"}},
	{machine1.ManagerPath, mgr + "TerminateMachine", []any{"victim"}},
	{machine1.ManagerPath, mgr + "KillMachine", []any{"victim", "all", int32(9)}},
	{machine1.ManagerPath, mgr + "OpenMachinePTY", []any{"victim"}},
	{machine1.ManagerPath, mgr + "OpenMachineLogin", []any{"victim"}},
	{machine1.ManagerPath, mgr + "OpenMachineShell", []any{"victim", "root", "/bin/sh", []string{"sh"}, []string{}}},
	{machine1.ManagerPath, mgr + "BindMountMachine", []any{"victim", "/etc", "/mnt", false, true}},
	{machine1.ManagerPath, mgr + "CopyFromMachine", []any{"victim", "/etc/shadow", "/tmp/x"}},
	{machine1.ManagerPath, mgr + "CopyToMachine", []any{"victim", "/etc/shadow", "/tmp/x"}},
	{machine1.ManagerPath, mgr + "CopyFromMachineWithFlags", []any{"victim", "/etc/shadow", "/tmp/x", uint64(1)}},
	{machine1.ManagerPath, mgr + "CopyToMachineWithFlags", []any{"victim", "/etc/shadow", "/tmp/x", uint64(1)}},
	{machine1.ManagerPath, mgr + "OpenMachineRootDirectory", []any{"victim"}},
	{machine1.ManagerPath, mgr + "RemoveImage", []any{"img1"}},
	{machine1.ManagerPath, mgr + "RenameImage", []any{"img1", "img2"}},
	{machine1.ManagerPath, mgr + "CloneImage", []any{"img1", "img2", false}},
	{machine1.ManagerPath, mgr + "MarkImageReadOnly", []any{"img1", true}},
	{machine1.ManagerPath, mgr + "SetPoolLimit", []any{uint64(1)}},
	{machine1.ManagerPath, mgr + "SetImageLimit", []any{"img1", uint64(1)}},
	{machine1.ManagerPath, mgr + "CleanPool", []any{"all"}},
	{victimPath, mch + "Terminate", nil},
	{victimPath, mch + "Kill", []any{"all", int32(9)}},
	{victimPath, mch + "OpenPTY", nil},
	{victimPath, mch + "OpenLogin", nil},
	{victimPath, mch + "OpenShell", []any{"root", "/bin/sh", []string{"sh"}, []string{}}},
	{victimPath, mch + "BindMount", []any{"/etc", "/mnt", false, true}},
	{victimPath, mch + "CopyFrom", []any{"/etc/shadow", "/tmp/x"}},
	{victimPath, mch + "CopyTo", []any{"/etc/shadow", "/tmp/x"}},
	{victimPath, mch + "CopyFromWithFlags", []any{"/etc/shadow", "/tmp/x", uint64(1)}},
	{victimPath, mch + "CopyToWithFlags", []any{"/etc/shadow", "/tmp/x", uint64(1)}},
	{victimPath, mch + "OpenRootDirectory", nil},
	{imagePath, img + "Remove", nil},
	{imagePath, img + "Rename", []any{"img2"}},
	{imagePath, img + "Clone", []any{"img2", false}},
	{imagePath, img + "MarkReadOnly", []any{true}},
	{imagePath, img + "SetLimit", []any{uint64(1)}},
	{victimPath, "org.freedesktop.DBus.Properties.Set", []any{busName + ".Machine", "Name", dbus.MakeVariant("x")}},
	{machine1.ManagerPath, "dev.berth.Manager1.AddPortForward", []any{"victim", "tcp", uint16(8080), uint16(80)}},
	{machine1.ManagerPath, "dev.berth.Manager1.RemovePortForward", []any{"victim", "tcp", uint16(8080)}},
	// A registration naming a leader (the calling process) takes the fast
	// path, which learns the caller's UID there.
	{machine1.ManagerPath, mgr + "RegisterMachine", []any{"x2", []byte{}, "s", "container", uint32(os.Getpid()), ""}},
	{machine1.ManagerPath, mgr + "RegisterMachineWithNetwork", []any{"x2", []byte{}, "s", "container", uint32(os.Getpid()), "", []int32{}}},
	{machine1.ManagerPath, mgr + "CreateMachine", []any{"x2", []byte{}, "s", "container", uint32(os.Getpid()), "", noProps}},
}

// reading lists calls unprivileged users may make.
var reading = []call{
	{machine1.ManagerPath, mgr + "ListMachines", nil},
	{machine1.ManagerPath, mgr + "GetMachine", []any{"victim"}},
	{machine1.ManagerPath, mgr + "ListImages", nil},
	{machine1.ManagerPath, mgr + "GetMachineOSRelease", []any{"victim"}},
	{machine1.ManagerPath, mgr + "GetMachineUIDShift", []any{"victim"}},
	{victimPath, "org.freedesktop.DBus.Properties.GetAll", []any{busName + ".Machine"}},
	{victimPath, "org.freedesktop.DBus.Introspectable.Introspect", nil},
}

// runCall performs reading or mutating call "r:N" or "m:N" on the system
// bus and returns the error name, or OK.
func runCall(spec string) string {
	kind, n, _ := strings.Cut(spec, ":")
	i, _ := strconv.Atoi(n)
	c := map[string][]call{"r": reading, "m": mutating}[kind][i]
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return "connect: " + err.Error()
	}
	defer conn.Close()
	err = conn.Object(busName, c.path).Call(c.method, 0, c.args...).Err
	return errorName(err)
}

func errorName(err error) string {
	var de dbus.Error
	switch {
	case err == nil:
		return "OK"
	case errors.As(err, &de):
		return de.Name
	}
	return err.Error()
}

// asUser runs call spec through a copy of the test binary as uid.
func asUser(t *testing.T, bin string, uid int, spec string) string {
	t.Helper()
	id := strconv.Itoa(uid)
	cmd := exec.Command(testbed.RequireTool(t, "setpriv"), "--reuid="+id, "--regid=65534", "--clear-groups", bin, "-test.run=^$")
	cmd.Env = []string{callEnv + "=" + spec, testbed.SystemBusEnv + "=" + os.Getenv(testbed.SystemBusEnv)}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run as %d: %v: %s", uid, err, out)
	}
	return string(out)
}

// worldExecutable copies the test binary where any user can run it.
func worldExecutable(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "berth-caller-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "caller")
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, src); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestIntegrationUnprivileged calls every mutating method as nobody and
// as a UID above INT_MAX: each is AccessDenied (the bus refuses to even
// connect the latter, which is as closed) and changes nothing; the reading
// methods work for nobody.
func TestIntegrationUnprivileged(t *testing.T) {
	testbed.RequireRoot(t)
	bus := testbed.StartBus(t)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(paths.Under(root).Pool, "img1"), 0o755); err != nil {
		t.Fatal(err)
	}
	startBerthd(t, bus, root)
	victim := startLeader(t)
	register(t, "victim", victim.PID, "")
	bin := worldExecutable(t)
	for _, uid := range []int{65534, 4000000000} {
		for i, c := range mutating {
			t.Run(fmt.Sprintf("%d/%s", uid, c.method), func(t *testing.T) {
				got := asUser(t, bin, uid, fmt.Sprintf("m:%d", i))
				if uid > math.MaxInt32 && strings.HasPrefix(got, "connect: ") {
					return
				}
				if got != "org.freedesktop.DBus.Error.AccessDenied" {
					t.Errorf("%s as %d = %s, want AccessDenied", c.method, uid, got)
				}
			})
		}
	}
	for i, c := range reading {
		t.Run("read/"+c.method, func(t *testing.T) {
			if got := asUser(t, bin, 65534, fmt.Sprintf("r:%d", i)); got != "OK" {
				t.Errorf("%s as nobody = %s, want OK", c.method, got)
			}
		})
	}
	if !alive(victim.PID) || !cmp.Equal(listNames(t, bus), []string{".host", "victim"}) {
		t.Errorf("unprivileged calls changed something: alive %v, machines %v", alive(victim.PID), listNames(t, bus))
	}
	if _, err := os.Stat(filepath.Join(paths.Under(root).Pool, "img1")); err != nil {
		t.Errorf("image gone: %v", err)
	}
}

// openPolicy lets anyone call machine1, so that berthd, not the bus,
// answers an unprivileged call.
const openPolicy = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><policy context="default"><allow send_destination="org.freedesktop.machine1"/></policy></busconfig>
`

// TestIntegrationUnprivilegedRegister registers as nobody on a bus whose
// policy lets the call through: berthd itself denies it, on the fast
// path (a leader given) as on godbus's (leader 0), and registers nothing.
func TestIntegrationUnprivilegedRegister(t *testing.T) {
	testbed.RequireRoot(t)
	policy := filepath.Join(t.TempDir(), "open.conf")
	if err := os.WriteFile(policy, []byte(openPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	bus := testbed.StartBus(t, policy)
	startBerthd(t, bus, t.TempDir())
	bin := worldExecutable(t)
	for i, c := range mutating {
		if !strings.HasPrefix(c.method, mgr+"Register") && !strings.HasPrefix(c.method, mgr+"Create") {
			continue
		}
		t.Run(fmt.Sprintf("%d/%s", i, c.method), func(t *testing.T) {
			if got := asUser(t, bin, 65534, fmt.Sprintf("m:%d", i)); got != "org.freedesktop.DBus.Error.AccessDenied" {
				t.Errorf("%s as nobody = %s, want AccessDenied", c.method, got)
			}
		})
	}
	if got := listNames(t, bus); !cmp.Equal(got, []string{".host"}) {
		t.Errorf("unprivileged registrations registered %v", got)
	}
}
