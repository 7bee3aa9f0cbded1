package spawn

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/internal/capset"
	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/berth-dev/berth/internal/passwd"
	"github.com/berth-dev/berth/internal/pid1"
	"golang.org/x/sys/unix"
)

// initPaths are tried in order for -b.
var initPaths = []string{"/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/sbin/init"}

// startPayload sets up the payload's terminal, identity and capabilities
// and executes it (or runs the stub init with it as PID 2).
func startPayload(sc *stageConfig, console, sync *os.File) error {
	c := &sc.Config
	u, err := lookupUser(c.User)
	if err != nil {
		return err
	}
	env := userEnv(sc.Env, u.Home, u.Name, c.Env)
	argv, err := payloadArgv(c, env, u)
	if err != nil {
		return err
	}
	if err := enterDir(c, u); err != nil {
		return err
	}
	goStub := c.AsPID2 && !pid1.NativeStub
	if console != nil && !goStub {
		if err := takeTerminal(console); err != nil {
			return err
		}
	}
	if err := applyProcess(c.Process); err != nil {
		return err
	}
	if err := capset.Apply(c.Caps); err != nil {
		return err
	}
	if u.UID != 0 {
		// As nspawn: a user other than root inherits only the ambient set.
		if err := capset.SetInheritable(c.AmbientCaps); err != nil {
			return err
		}
	}
	if c.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	if goStub {
		return runStub(argv, env, u, c.AmbientCaps, console, sync)
	}
	if err := becomeUserAmbient(u, c.AmbientCaps); err != nil {
		return err
	}
	if c.AsPID2 {
		return execStub(argv, env)
	}
	if err := closeExtraFDs(); err != nil {
		return err
	}
	err = kernel.Retry("execve", func() error { return unix.Exec(argv[0], argv, env) })
	return fmt.Errorf("execute %s: %w", argv[0], err)
}

// lookupUser resolves -u in the container's own passwd files (root when
// empty).
func lookupUser(name string) (passwd.User, error) {
	if name == "" {
		name = "root"
	}
	pw, err := os.Open("/etc/passwd")
	if err != nil {
		if name == "root" {
			return passwd.User{Name: "root", Home: "/root", Shell: "/bin/sh"}, nil
		}
		return passwd.User{}, fmt.Errorf("user %s: %w", name, err)
	}
	defer pw.Close()
	gr, err := os.Open("/etc/group")
	if err == nil {
		defer gr.Close()
	} else {
		gr = nil
	}
	u, err := lookupIn(name, pw, gr)
	if err != nil && name == "root" {
		return passwd.User{Name: "root", Home: "/root", Shell: "/bin/sh"}, nil
	}
	return u, err
}

func lookupIn(name string, pw, gr *os.File) (passwd.User, error) {
	if gr == nil {
		return passwd.Lookup(name, pw, nil)
	}
	return passwd.Lookup(name, pw, gr)
}

// payloadArgv returns the path and arguments to execute: the image's init
// for -b, the command (looked up in the payload's PATH), or a login shell.
func payloadArgv(c *nspawnopts.Config, env []string, u passwd.User) ([]string, error) {
	switch {
	case c.Boot:
		for _, p := range initPaths {
			if isExecutable(p) {
				return append([]string{p}, c.Command...), nil
			}
		}
		return nil, errors.New("no init found in the image (tried " + strings.Join(initPaths, ", ") + ")")
	case len(c.Command) > 0:
		p, err := lookPath(c.Command[0], lookupEnv(env, "PATH"))
		if err != nil {
			return nil, err
		}
		return append([]string{p}, c.Command[1:]...), nil
	}
	for _, sh := range []string{"/bin/bash", "/bin/sh"} {
		if isExecutable(sh) {
			return []string{sh, "-" + path.Base(sh)}, nil
		}
	}
	return nil, errors.New("no shell found in the image (tried /bin/bash, /bin/sh)")
}

// isExecutable reports whether p is an executable regular file.
func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// lookPath finds name in the colon-separated list dirs, as execvp does.
func lookPath(name, dirs string) (string, error) {
	if strings.Contains(name, "/") {
		if isExecutable(name) {
			return name, nil
		}
		return "", fmt.Errorf("command %s not found or not executable", name)
	}
	for _, d := range strings.Split(dirs, ":") {
		if p := path.Join(d, name); d != "" && isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %s not found in the container's PATH", name)
}

// enterDir changes to --chdir, or to the user's home for a login shell.
func enterDir(c *nspawnopts.Config, u passwd.User) error {
	dir := c.Chdir
	if dir == "" && len(c.Command) == 0 && !c.Boot {
		if unix.Chdir(u.Home) == nil {
			return nil
		}
		dir = "/"
	}
	if dir == "" {
		return nil
	}
	if err := kernel.Retry("chdir", func() error { return unix.Chdir(dir) }); err != nil {
		return fmt.Errorf("--chdir=%s: %w", dir, err)
	}
	return nil
}

// takeTerminal makes console the controlling terminal and fds 0-2.
func takeTerminal(console *os.File) error {
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	fd := int(console.Fd())
	if err := unix.IoctlSetInt(fd, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("controlling terminal: %w", err)
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(fd, i, 0); err != nil {
			return fmt.Errorf("console as fd %d: %w", i, err)
		}
	}
	return console.Close()
}

// becomeUser switches to u's IDs (nothing to do for root).
func becomeUser(u passwd.User) error {
	if u.UID == 0 && u.GID == 0 {
		return nil
	}
	groups := make([]int, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(int(u.GID)); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(int(u.UID)); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	return nil
}

// becomeUserAmbient switches to u and raises the ambient capabilities:
// the kernel clears the ambient set on a switch away from root, so they
// are raised after it, with the permitted set kept across it.
func becomeUserAmbient(u passwd.User, ambient capset.Set) error {
	if ambient != 0 && (u.UID != 0 || u.GID != 0) {
		if err := capset.KeepCaps(); err != nil {
			return err
		}
	}
	if err := becomeUser(u); err != nil {
		return err
	}
	return capset.RaiseAmbient(ambient)
}

// closeExtraFDs marks every descriptor above 2 close-on-exec, so only
// 0-2 reach the payload.
func closeExtraFDs() error {
	return kernel.Retry("close_range", func() error {
		return unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	})
}

// runStub runs the stub init with the payload as PID 2 and exits with the
// payload's status; the payload gets the ambient capabilities.
func runStub(argv, env []string, u passwd.User, ambient capset.Set, console, sync *os.File) error {
	attr := &syscall.SysProcAttr{AmbientCaps: ambient.Numbers()}
	files := []uintptr{0, 1, 2}
	if console != nil {
		attr.Setsid, attr.Setctty, attr.Ctty = true, true, 0
		files = []uintptr{console.Fd(), console.Fd(), console.Fd()}
	}
	if u.UID != 0 || u.GID != 0 {
		attr.Credential = &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}
	}
	if err := closeExtraFDs(); err != nil {
		return err
	}
	status, err := pid1.Run(argv, env, attr, files, func() {
		sync.Close()
		if console != nil {
			console.Close()
		}
	})
	if err != nil {
		return err
	}
	os.Exit(status)
	return nil
}

// execStub executes the C stub init from a sealed copy of the binary, with
// the payload as its argument.
func execStub(argv, env []string) error {
	fd, err := sealedSelf()
	if err != nil {
		return err
	}
	if err := closeExtraFDs(); err != nil {
		return err
	}
	stubArgv := append([]string{"berth-nspawn-stub", pid1.StubArg, argv[0]}, argv...)
	// Block every signal across the execve: a signal the stub has no
	// handler for yet would be dropped (it is PID 1), a blocked one waits
	// for the stub's sigwaitinfo.
	var all unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^uint64(0)
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &all, nil); err != nil {
		return fmt.Errorf("block signals: %w", err)
	}
	err = execSealed(fd, stubArgv, env)
	return fmt.Errorf("execute the stub init: %w", err)
}
