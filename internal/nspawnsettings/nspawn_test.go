package nspawnsettings

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationNspawnDifferential runs systemd-nspawn on a busybox image
// with a trusted .nspawn file and compares what the payload sees (its
// arguments, environment, hostname and working directory) with what Parse
// makes of the same file.
func TestIntegrationNspawnDifferential(t *testing.T) {
	nspawn := testbed.RequireTool(t, "systemd-nspawn")
	bb := testbed.BusyboxImage(t)
	machine := fmt.Sprintf("nsdiff%d", os.Getpid())
	image := filepath.Join(filepath.Dir(bb), machine)
	if err := os.Rename(bb, image); err != nil {
		t.Fatal(err)
	}
	script := `for a in "$@"; do echo "[$a]"; done; echo "A=$A"; echo "B=$B"; hostname; pwd`
	files := []string{
		"[Exec]\nBoot=no\nParameters=/bin/sh -c '" + script + "' sh a\\ b \"e'f\" x\\y \"\" z\"w v\"u 'p\"q'\n" +
			"Environment=A=1 \"B=two  words\"\nHostname=fromfile\nWorkingDirectory=/tmp\n",
		"[Exec]\nBoot=no\nParameters=/bin/sh -c '" + script + "' sh\nParameters=\nParameters=/bin/sh -c '" + script + "' sh one\n" +
			"Environment=A='single quoted' B=\"\"\nEnvironment=A=later\n",
	}
	for i, content := range files {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			path := filepath.Join(filepath.Dir(image), machine+".nspawn")
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			s, _, err := Parse([]byte(content), path)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(nspawn, "--quiet", "--register=no", "--keep-unit", "--console=pipe",
				"--settings=trusted", "-D", image)
			cmd.Stderr = new(strings.Builder)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("systemd-nspawn: %v: %s", err, cmd.Stderr)
			}
			if diff := cmp.Diff(expectedOutput(s, machine), strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")); diff != "" {
				t.Errorf("nspawn (+) and Parse (-) disagree:\n%s", diff)
			}
		})
	}
}

// expectedOutput is what the test payload prints if nspawn applies s.
func expectedOutput(s *Settings, machine string) []string {
	var out []string
	for _, a := range s.Parameters.Value[4:] {
		out = append(out, "["+a+"]")
	}
	env := map[string]string{}
	for _, e := range s.Environment.Value {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	host := s.Hostname.Value
	if host == "" {
		host = machine
	}
	wd := s.WorkingDirectory.Value
	if wd == "" {
		wd = "/"
	}
	return append(out, "A="+env["A"], "B="+env["B"], host, wd)
}
