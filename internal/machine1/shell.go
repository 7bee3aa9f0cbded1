package machine1

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/enter"
	"github.com/berth-dev/berth/internal/inroot"
	"github.com/berth-dev/berth/internal/machine"
)

// masterGrace is how long the daemon keeps its copy of a session's pty
// master after the program exited, so the reply can still carry it.
const masterGrace = 30 * time.Second

// loginPrograms are tried in order for OpenMachineLogin.
var loginPrograms = []string{"/bin/login", "/usr/bin/login", "/sbin/login"}

func (s *Server) openMachineShell(msg dbus.Message, name, user, path string, args, env []string) (dbus.UnixFD, string, *dbus.Error) {
	if err := s.requireRoot(msg, hostOr(name, "open shell", "open host shell")); err != nil {
		return -1, "", busError(err)
	}
	if path != "" && !strings.HasPrefix(path, "/") {
		return -1, "", busError(fmt.Errorf("open shell: path must be absolute: %w", errInvalidArgs))
	}
	return s.session(name, user, env, func(u enter.User) []string {
		switch {
		case path == "":
			shell := u.Shell
			if !strings.HasPrefix(shell, "/") {
				shell = "/bin/sh"
			}
			return []string{shell, "-l"}
		case len(args) == 0:
			return []string{path}
		}
		return append([]string{path}, args[1:]...)
	})
}

func (s *Server) openMachineLogin(msg dbus.Message, name string) (dbus.UnixFD, string, *dbus.Error) {
	if err := s.requireRoot(msg, hostOr(name, "open login", "open host login")); err != nil {
		return -1, "", busError(err)
	}
	return s.session(name, "root", nil, func(enter.User) []string {
		return []string{"/bin/sh", "-c", loginScript}
	})
}

// loginScript runs the machine's login(1), wherever it is.
var loginScript = "for l in " + strings.Join(loginPrograms, " ") + `; do [ -x "$l" ] && exec "$l"; done; echo "no login program" >&2; exit 1`

// session starts a program in the machine on a new pty and returns the
// master for the bus reply.
func (s *Server) session(name, user string, env []string, argv func(enter.User) []string) (dbus.UnixFD, string, *dbus.Error) {
	ns, err := s.opts.Machines.Enter(name)
	if err != nil {
		return -1, "", busError(err)
	}
	defer ns.Close()
	u, err := lookupUser(ns, user)
	if err != nil {
		return -1, "", busError(err)
	}
	req := enter.Request{Argv: argv(u), Env: environment(u, env), UID: u.UID, GID: u.GID}
	sess, err := enter.Start(s.opts.Nsenter, ns, req)
	if errors.Is(err, enter.ErrInvalid) {
		err = fmt.Errorf("%w: %w", err, errInvalidArgs)
	}
	if err != nil {
		return -1, "", busError(err)
	}
	sess.CloseAfter(masterGrace)
	return dbus.UnixFD(sess.Master.Fd()), sess.PTYPath, nil
}

// lookupUser reads the machine's own passwd file (the host's for nil ns).
// "" is root; root exists even without a passwd file.
func lookupUser(ns *enter.Namespaces, name string) (enter.User, error) {
	if name == "" {
		name = "root"
	}
	root, err := machineRoot(ns)
	if err != nil {
		return enter.User{}, err
	}
	defer root.Close()
	data, err := inroot.ReadFile(root, "/etc/passwd", enter.MaxPasswdSize)
	if err == nil {
		var u enter.User
		if u, err = enter.ParseUser(data, name); err == nil {
			return u, nil
		}
	}
	if name == "root" {
		return enter.User{Name: "root", Home: "/root", Shell: "/bin/sh"}, nil
	}
	return enter.User{}, fmt.Errorf("user %q in machine: %v: %w", name, err, errInvalidArgs)
}

// environment is the session's environment: a login-like default, then
// the caller's KEY=VALUE entries, later keys winning.
func environment(u enter.User, extra []string) []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + u.Home,
		"USER=" + u.Name, "LOGNAME=" + u.Name, "SHELL=" + u.Shell, "TERM=vt220"}
	index := map[string]int{}
	for i, e := range env {
		k, _, _ := strings.Cut(e, "=")
		index[k] = i
	}
	for _, e := range extra {
		k, _, _ := strings.Cut(e, "=")
		if i, ok := index[k]; ok {
			env[i] = e
			continue
		}
		index[k] = len(env)
		env = append(env, e)
	}
	return env
}

// openMachineRootDirectory returns a directory fd of the container's root
// as its leader sees it (/proc/LEADER/root, checked against the pidfd).
func (s *Server) openMachineRootDirectory(msg dbus.Message, name string) (dbus.UnixFD, *dbus.Error) {
	if err := s.requireRoot(msg, "open root directory"); err != nil {
		return -1, busError(err)
	}
	if name == machine.HostName {
		return -1, busError(fmt.Errorf("open root directory of the host: %w", machine.ErrNotSupported))
	}
	ns, err := s.opts.Machines.Enter(name)
	if err != nil {
		return -1, busError(err)
	}
	defer ns.Close()
	root, err := inroot.OpenDir(ns.Root, "/")
	if err != nil {
		return -1, busError(err)
	}
	time.AfterFunc(masterGrace, func() { root.Close() })
	return dbus.UnixFD(root.Fd()), nil
}

// openMachinePTY allocates a pty in the machine's own devpts (the host's
// for .host) and hands over the master; the slave path is the machine's.
func (s *Server) openMachinePTY(msg dbus.Message, name string) (dbus.UnixFD, string, *dbus.Error) {
	if err := s.requireRoot(msg, "open pty"); err != nil {
		return -1, "", busError(err)
	}
	ns, err := s.opts.Machines.Enter(name)
	if err != nil {
		return -1, "", busError(err)
	}
	defer ns.Close()
	root, err := machineRoot(ns)
	if err != nil {
		return -1, "", busError(err)
	}
	defer root.Close()
	master, path, err := enter.OpenPTYIn(root)
	if errors.Is(err, enter.ErrInvalid) {
		err = fmt.Errorf("%w: %w", err, machine.ErrNotSupported)
	}
	if err != nil {
		return -1, "", busError(err)
	}
	time.AfterFunc(masterGrace, func() { master.Close() })
	return dbus.UnixFD(master.Fd()), path, nil
}

// machineRoot returns a new handle on the machine's root directory (the
// host's for nil ns); the caller closes it.
func machineRoot(ns *enter.Namespaces) (*os.File, error) {
	if ns == nil {
		return inroot.Open("/")
	}
	return inroot.OpenDir(ns.Root, "/")
}

// hostOr returns forHost for the host machine, else what.
func hostOr(name, what, forHost string) string {
	if name == machine.HostName {
		return forHost
	}
	return what
}
