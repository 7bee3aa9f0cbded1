package lifecycle

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/imagebuild"
	"github.com/berth-dev/berth/internal/stopsignal"
	"github.com/berth-dev/berth/internal/supervisor"
	"github.com/berth-dev/berth/internal/testbed"
	"github.com/berth-dev/berth/internal/unitgen"
)

// TestIntegrationBerthNspawnUnit runs the repository's template, as
// generated for a busybox machine, with the real berth-nspawn under the
// embedded supervisor: readiness through READY=1 (Type=notify), and a
// stop of the unit (terminate) that reaches busybox init through
// --kill-signal. Without berthd on a bus the machine cannot register, so
// the test adds --register=no and -D; it drops the managed options the
// spawner does not offer yet (its help does not list them) and those that
// need berthd or a private network (-U, --network-veth).
func TestIntegrationBerthNspawnUnit(t *testing.T) {
	testbed.RequireRoot(t)
	bin := testbed.Binary(t, "berth-nspawn")
	p := testbed.Paths(t)
	img := filepath.Join(p.Pool, "bbn")
	if err := imagebuild.Busybox(img); err != nil {
		testbed.Unavailable(t, err.Error())
	}
	tmpl, err := os.ReadFile(filepath.Join(testbed.RepoRoot(t), "units", unitgen.Template))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := stopsignal.Detect(img)
	if err != nil {
		t.Fatal(err)
	}
	u, err := unitgen.Generate([]byte(strings.ReplaceAll(string(tmpl), "@BINDIR@", filepath.Dir(bin))),
		unitgen.Settings{Machine: "bbn", GuestStopSignal: sig.PowerOff})
	if err != nil {
		t.Fatal(err)
	}
	u.ExecStart = append(spawnerArgs(t, bin, u.ExecStart), "--register=no", "-D", img)
	u.Slice = "berthtestnspawn.slice"
	t.Cleanup(func() { removeSlice(p.Cgroup, u.Slice) })
	sup, err := supervisor.New(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := sup.Start(ctx, u); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.Log, "bbn.log"))
		t.Fatalf("%v\n%s", err, log)
	}
	start := time.Now()
	if err := sup.Stop(ctx, u.Name, supervisor.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := sup.State(u.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("busybox machine stopped through berth-nspawn in %v", time.Since(start))
	log, _ := os.ReadFile(st.Log)
	if st.State != supervisor.Inactive || !strings.Contains(string(log), "Requesting system poweroff") {
		t.Errorf("stop did not power the guest off: %+v\n%s", st, log)
	}
	if strings.Contains(string(log), "killing its cgroup") {
		t.Errorf("stop needed SIGKILL:\n%s", log)
	}
}

// spawnerArgs keeps the arguments of argv that berth-nspawn's help lists,
// minus -U and --network-veth (see the test).
func spawnerArgs(t *testing.T, bin string, argv []string) []string {
	t.Helper()
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	out := []string{bin}
	for _, a := range argv[1:] {
		name, _, _ := strings.Cut(a, "=")
		if a == "-U" || a == "--network-veth" || !strings.Contains(string(help), name+" ") && !strings.Contains(string(help), name+"[") {
			t.Logf("dropping %s", a)
			continue
		}
		out = append(out, a)
	}
	return out
}
