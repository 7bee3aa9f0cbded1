package containernet

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// waitTimeout bounds waiting for a container (a hang guard only).
const waitTimeout = 90 * time.Second

// holdScript prints the container's host0 MAC address (or "none"), then
// "ready", and waits for stdin to close.
const holdScript = `cat /sys/class/net/host0/address 2>/dev/null || echo none; echo ready; read x; true`

// running is a spawner started in a test namespace.
type running struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	errb  *syncBuffer
	done  chan struct{}
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// spawnerEnv is the spawners' environment: a PATH and the test bus, if any.
func spawnerEnv(bus *testbed.Bus) []string {
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=dumb"}
	if bus != nil {
		env = append(env, testbed.SystemBusEnv+"="+bus.Address)
	}
	return env
}

// inNetNS returns a command running bin in ns with nsenter, which keeps
// the host's /sys (and its cgroup mounts), unlike ip netns exec.
func inNetNS(ns *testbed.NetNS, bin string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + ns.Path, "--", bin}, args...)...)
}

// start runs bin with args inside ns, stdin a pipe, and collects its
// stdout lines.
func start(t *testing.T, ns *testbed.NetNS, env []string, bin string, args ...string) *running {
	t.Helper()
	r := &running{cmd: inNetNS(ns, bin, args...), lines: make(chan string, 64),
		errb: &syncBuffer{}, done: make(chan struct{})}
	r.cmd.Env = env
	r.cmd.Stderr = r.errb
	var err error
	if r.stdin, err = r.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			r.lines <- strings.TrimSpace(strings.ReplaceAll(sc.Text(), "\r", ""))
		}
		close(r.lines)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// until returns the stdout lines up to the first one equal to last.
func (r *running) until(t *testing.T, last string) []string {
	t.Helper()
	var got []string
	timeout := time.After(waitTimeout)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("container ended before %q; output %q; stderr:\n%s", last, got, r.errb.String())
			}
			if l == last {
				return got
			}
			got = append(got, l)
		case <-timeout:
			t.Fatalf("timed out waiting for %q; output %q; stderr:\n%s", last, got, r.errb.String())
		}
	}
}

// stop closes stdin and waits for the spawner; it returns the exit code.
func (r *running) stop(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
		return r.cmd.ProcessState.ExitCode()
	default:
	}
	r.stdin.Close()
	timer := time.AfterFunc(waitTimeout, func() { _ = r.cmd.Process.Kill() })
	defer timer.Stop()
	for range r.lines {
	}
	_ = r.cmd.Wait()
	close(r.done)
	return r.cmd.ProcessState.ExitCode()
}

// handle opens a netlink handle in ns.
func handle(t *testing.T, ns *testbed.NetNS) *netlink.Handle {
	t.Helper()
	nsh, err := netns.GetFromPath(ns.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// linkNames lists the names of the links in h's namespace with prefix.
func linkNames(t *testing.T, h *netlink.Handle, prefix string) []string {
	t.Helper()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, prefix) {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}
