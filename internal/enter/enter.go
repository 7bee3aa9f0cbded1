package enter

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Namespaces are open namespace files of a machine's leader and its root
// directory. User is nil when the machine shares the daemon's user
// namespace. A nil *Namespaces means the host itself.
type Namespaces struct {
	Mount, UTS, IPC, Net, PID, Cgroup, User *os.File
	Root                                    *os.File
}

// Close closes every file.
func (n *Namespaces) Close() {
	if n == nil {
		return
	}
	for _, f := range n.files() {
		if f != nil {
			f.Close()
		}
	}
}

// files lists the namespace files in nsenter's option order, then Root.
func (n *Namespaces) files() []*os.File {
	return []*os.File{n.User, n.Mount, n.UTS, n.IPC, n.Net, n.PID, n.Cgroup, n.Root}
}

var nsOptions = []string{"--user", "--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup", "--root"}

// Request describes the program to run.
type Request struct {
	// Argv is the program (absolute path inside the machine) and arguments.
	Argv []string
	// Env is the complete environment.
	Env []string
	// UID and GID are the credentials inside the machine.
	UID, GID uint32
	// Dir is the working directory inside the machine ("" = "/").
	Dir string
}

// ErrInvalid marks a bad Request.
var ErrInvalid = errors.New("invalid request")

// Validate checks r before anything runs.
func (r Request) Validate() error {
	if len(r.Argv) == 0 || !strings.HasPrefix(r.Argv[0], "/") {
		return fmt.Errorf("program must be an absolute path: %w", ErrInvalid)
	}
	for _, s := range append(append([]string{}, r.Argv...), r.Env...) {
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("NUL byte in argument or environment: %w", ErrInvalid)
		}
	}
	for _, e := range r.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("environment entry %q is not KEY=VALUE: %w", e, ErrInvalid)
		}
	}
	if r.Dir != "" && !strings.HasPrefix(r.Dir, "/") {
		return fmt.Errorf("working directory must be absolute: %w", ErrInvalid)
	}
	return nil
}

// nsenterArgs returns nsenter's arguments when the namespace files are
// donated as fds 3, 4, ... in the order of ns.files() (nil ones skipped).
func nsenterArgs(ns *Namespaces, r Request) ([]string, []*os.File) {
	var args []string
	var extra []*os.File
	for i, f := range ns.files() {
		if f == nil {
			continue
		}
		args = append(args, fmt.Sprintf("%s=/proc/self/fd/%d", nsOptions[i], 3+len(extra)))
		extra = append(extra, f)
	}
	dir := r.Dir
	if dir == "" {
		dir = "/"
	}
	args = append(args, "--wdns="+dir, fmt.Sprintf("--setuid=%d", r.UID), fmt.Sprintf("--setgid=%d", r.GID), "--")
	return append(args, r.Argv...), extra
}
