package uidrange

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testbed"
)

// ofdLocked reports whether an OFD write lock on path can not be taken.
func ofdLocked(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk) != nil
}

func TestAllocatorNspawnLockProtocol(t *testing.T) {
	p := testbed.Paths(t)
	dir := t.TempDir()
	w := window{MinBase, MinBase + Size}
	first := w.first("m")
	// An nspawn holding the first candidate.
	held, err := tryOFDLock(filepath.Join(dir, strconv.Itoa(int(first))))
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(p, WithWindow(w.min, w.max), WithNspawnLockDir(dir)).Acquire("m")
	if err != nil {
		t.Fatal(err)
	}
	if l.Range.Base == first {
		t.Fatalf("took base %#x that systemd-nspawn holds", first)
	}
	if !ofdLocked(t, filepath.Join(dir, strconv.Itoa(int(l.Range.Base)))) {
		t.Error("systemd-nspawn could take the base berth holds")
	}
	held.Close()
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, strconv.Itoa(int(l.Range.Base)))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("nspawn lock file left behind: %v", err)
	}
}

func TestIntegrationAllocatorAvoidsNspawnRange(t *testing.T) {
	image := testbed.BusyboxImage(t)
	nspawn := testbed.RequireTool(t, "systemd-nspawn")
	testbed.StartBus(t)
	// The container prints its uid_map (the range nspawn picked and
	// locks) and stays up while berth tries to allocate.
	cmd := exec.Command(nspawn, "-q", "-U", "--keep-unit", "--register=no",
		"-M", "berth-uidrange-test", "-D", image, "/bin/sh", "-c", "cat /proc/self/uid_map; exec sleep 60")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 3 {
		t.Fatalf("uid_map from the container: %q, %v", line, err)
	}
	base, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	a := New(testbed.Paths(t), WithWindow(uint32(base), uint32(base)), WithNspawnLockDir("/run/systemd/nspawn-uid"))
	if l, err := a.Acquire("berth"); !errors.Is(err, ErrExhausted) {
		t.Errorf("got %v, %v while systemd-nspawn holds the only base %#x", l, err, base)
	}
}
