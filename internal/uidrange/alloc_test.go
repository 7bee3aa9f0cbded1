package uidrange

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/testbed"
)

// childEnv makes the test binary act as one allocating process: it
// acquires a range for the machine named in the variable below the paths
// root given as argument, prints the base, and holds the lease until stdin
// is closed.
const childEnv = "BERTH_UIDRANGE_CHILD"

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(child(name, os.Getenv(childEnv+"_ROOT")))
	}
	os.Exit(m.Run())
}

func child(name, root string) int {
	l, err := New(paths.Under(root)).Acquire(name)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println(l.Range.Base)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

func TestAllocatorConcurrentProcesses(t *testing.T) {
	p := testbed.Paths(t)
	const n = 50
	type proc struct {
		cmd  *exec.Cmd
		in   interface{ Close() error }
		line chan string
	}
	procs := make([]proc, n)
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=m%d", childEnv, i), childEnv+"_ROOT="+p.Root)
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[i] = proc{cmd, in, make(chan string, 1)}
		go func(c chan string) {
			l, _ := bufio.NewReader(out).ReadString('\n')
			c <- strings.TrimSpace(l)
		}(procs[i].line)
	}
	got := map[uint32]int{}
	for i, pr := range procs {
		l := <-pr.line
		base, err := strconv.ParseUint(l, 10, 32)
		if err != nil {
			t.Fatalf("child %d: %q", i, l)
		}
		if j, dup := got[uint32(base)]; dup {
			t.Errorf("children %d and %d both got base %#x", j, i, base)
		}
		got[uint32(base)] = i
		if !(window{MinBase, MaxBase}).holds(uint32(base)) {
			t.Errorf("child %d: base %#x outside the window", i, base)
		}
	}
	for _, pr := range procs {
		pr.in.Close()
		if err := pr.cmd.Wait(); err != nil {
			t.Error(err)
		}
	}
}

func TestAllocatorConcurrentSameWindow(t *testing.T) {
	// 50 goroutines, each with its own allocator and fds, in a window of
	// exactly 50 bases: all must succeed with disjoint ranges.
	p := testbed.Paths(t)
	const n = 50
	win := WithWindow(MinBase, MinBase+(n-1)*Size)
	type res struct {
		l   *Lease
		err error
	}
	ch := make(chan res, n)
	for i := range n {
		go func() {
			l, err := New(p, win).Acquire(fmt.Sprintf("g%d", i))
			ch <- res{l, err}
		}()
	}
	seen := map[uint32]bool{}
	for range n {
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		if seen[r.l.Range.Base] {
			t.Fatalf("base %#x handed out twice", r.l.Range.Base)
		}
		seen[r.l.Range.Base] = true
		defer r.l.Release()
	}
	if _, err := New(p, win).Acquire("one-more"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("51st acquire: err = %v, want ErrExhausted", err)
	}
}

func TestAllocatorRestartGetsSameRange(t *testing.T) {
	p := testbed.Paths(t)
	a := New(p)
	l, err := a.Acquire("web")
	if err != nil {
		t.Fatal(err)
	}
	first := l.Range
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	// Another machine starting in between must not steal web's range,
	// even if it hashes there: web's record marks it.
	other, err := New(p, WithWindow(first.Base, first.Base+Size)).Acquire("other")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	if other.Range.Base == first.Base {
		t.Fatalf("other machine took web's recorded range %#x", first.Base)
	}
	record, err := os.Stat(filepath.Join(p.State, "uidrange", "web"))
	if err != nil {
		t.Fatal(err)
	}
	l, err = New(p).Acquire("web")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if l.Range != first {
		t.Errorf("restart got %v, want %v", l.Range, first)
	}
	if again, err := os.Stat(filepath.Join(p.State, "uidrange", "web")); err != nil || !os.SameFile(record, again) {
		t.Errorf("restart rewrote the unchanged record (%v)", err)
	}
	if got, err := a.Lookup("web"); err != nil || got != first {
		t.Errorf("Lookup = %v, %v; want %v", got, err, first)
	}
	if got, used, err := a.InUse("web"); err != nil || got != first || !used {
		t.Errorf("InUse while running = %v, %v, %v; want %v, true", got, used, err, first)
	}
	l.Release()
	if got, used, err := a.InUse("web"); err != nil || got != first || used {
		t.Errorf("InUse after exit = %v, %v, %v; want %v, false", got, used, err, first)
	}
	if _, _, err := a.InUse("never"); !errors.Is(err, ErrNotFound) {
		t.Errorf("InUse of an unknown machine: %v, want ErrNotFound", err)
	}
}

func TestAllocatorSkipsAccounts(t *testing.T) {
	p := testbed.Paths(t)
	dir := t.TempDir()
	pw, gr := filepath.Join(dir, "passwd"), filepath.Join(dir, "group")
	w := window{MinBase, MinBase + 2*Size}
	first := w.first("m")
	next := w.min + ((first-w.min)/Size+1)%3*Size
	writeFile(t, pw, fmt.Sprintf("u:x:%d:0::/:/x\n", first+0xFFFE))
	writeFile(t, gr, fmt.Sprintf("g:x:%d:\n", next))
	l, err := New(p, WithWindow(w.min, w.max), WithAccountFiles(pw, gr)).Acquire("m")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if l.Range.Base == first || l.Range.Base == next {
		t.Errorf("got base %#x, which collides with an account", l.Range.Base)
	}
}

func TestAllocatorReserve(t *testing.T) {
	p := testbed.Paths(t)
	a := New(p)
	tests := []struct {
		name    string
		r       Range
		wantErr error
	}{
		{"explicit", Range{0x100000, 0x20000}, nil},
		{"overlap", Range{0x110000, 0x100}, ErrBusy},
		{"empty", Range{0x200000, 0}, ErrInvalid},
		{"wraps", Range{0xFFFF0000, 0x10000}, ErrInvalid},
		{"adjacent", Range{0x120000, 0x10000}, nil},
	}
	for i, tc := range tests {
		// Leases are held to the end of the whole table, so later rows
		// see earlier ones.
		l, err := a.Reserve(fmt.Sprintf("r%d", i), tc.r)
		if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.wantErr)
		}
		if l != nil {
			defer l.Release()
		}
	}
	if _, err := a.Acquire("bad name!"); err == nil {
		t.Error("invalid machine name accepted")
	}
}

func writeFile(t *testing.T, name, s string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
