package spawn

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/berth-dev/berth/internal/passwd"
	"github.com/berth-dev/berth/internal/rootfs"
)

// initPaths are tried in order for -b.
var initPaths = []string{"/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/sbin/init"}

// planStage computes the stage's configuration in the host half of the
// tree root, which holds the image and the custom mounts as the payload
// will see them: the user of -u from the container's own passwd files,
// the payload (looked up in its PATH), its environment and working
// directory, and the process settings.
func planStage(sc *stageConfig, root *rootfs.Root) (*stagePlan, error) {
	c := &sc.Config
	u, err := lookupUser(root, c.User)
	if err != nil {
		return nil, err
	}
	env := userEnv(sc.Env, u.Home, u.Name, c.Env)
	argv, err := payloadArgv(root, c, env)
	if err != nil {
		return nil, err
	}
	p := &stagePlan{
		Flags: stageFlags(sc), Hostname: c.Hostname, Argv: argv, Env: env,
		UID: u.UID, GID: u.GID, Groups: u.Groups,
		Caps: uint64(c.Caps), Ambient: uint64(c.AmbientCaps),
	}
	p.Chdir = c.Chdir
	if c.Chdir == "" && len(c.Command) == 0 && !c.Boot {
		// A login shell starts in the user's home, or in / without one.
		p.Chdir, p.Flags = u.Home, p.Flags|flagChdirFallback
	}
	if err := p.addProcess(c.Process); err != nil {
		return nil, err
	}
	return p, nil
}

// stageFlags are the stage's flag* bits for sc.
func stageFlags(sc *stageConfig) uint32 {
	c := &sc.Config
	var f uint32
	set := func(cond bool, bit uint32) {
		if cond {
			f |= bit
		}
	}
	set(sc.Cgroup, flagCgroupNS|flagCgroup)
	set(c.Boot, flagCgroupRW)
	set(c.PrivateNetwork, flagPrivateNet)
	set(c.PrivateNetwork && c.Network.NamespacePath == "", flagSysInside)
	set(c.ReadOnly || c.Volatile == nspawnopts.VolatileState, flagReadOnly)
	set(c.Console != nspawnopts.ConsolePipe, flagConsole)
	set(c.NoNewPrivileges, flagNoNewPrivs)
	set(c.AsPID2, flagAsPID2)
	set(joinsRoot(sc), flagJoinRoot)
	set(sc.awaitGo, flagAwaitGo)
	return f
}

// lookupUser resolves -u in the container's own passwd files (root when
// empty).
func lookupUser(root *rootfs.Root, name string) (passwd.User, error) {
	if name == "" {
		name = "root"
	}
	fallback := passwd.User{Name: "root", Home: "/root", Shell: "/bin/sh"}
	pw, err := root.OpenFile("/etc/passwd")
	if err != nil {
		if name == "root" {
			return fallback, nil
		}
		return passwd.User{}, fmt.Errorf("user %s: %w", name, err)
	}
	defer pw.Close()
	var u passwd.User
	if gr, grErr := root.OpenFile("/etc/group"); grErr == nil {
		defer gr.Close()
		u, err = passwd.Lookup(name, pw, gr)
	} else {
		u, err = passwd.Lookup(name, pw, nil)
	}
	if err != nil && name == "root" {
		return fallback, nil
	}
	return u, err
}

// payloadArgv returns the path and arguments to execute: the image's init
// for -b, the command (looked up in the payload's PATH), or a login shell.
func payloadArgv(root *rootfs.Root, c *nspawnopts.Config, env []string) ([]string, error) {
	switch {
	case c.Boot:
		for _, p := range initPaths {
			if root.IsExecutable(p) {
				return append([]string{p}, c.Command...), nil
			}
		}
		return nil, errors.New("no init found in the image (tried " + strings.Join(initPaths, ", ") + ")")
	case len(c.Command) > 0:
		p, err := lookPath(root, c.Command[0], lookupEnv(env, "PATH"))
		if err != nil {
			return nil, err
		}
		return append([]string{p}, c.Command[1:]...), nil
	}
	for _, sh := range []string{"/bin/bash", "/bin/sh"} {
		if root.IsExecutable(sh) {
			return []string{sh, "-" + path.Base(sh)}, nil
		}
	}
	return nil, errors.New("no shell found in the image (tried /bin/bash, /bin/sh)")
}

// lookPath finds name in the colon-separated list dirs, as execvp does
// (relative entries from /).
func lookPath(root *rootfs.Root, name, dirs string) (string, error) {
	if strings.Contains(name, "/") {
		if root.IsExecutable(name) {
			return name, nil
		}
		return "", fmt.Errorf("command %s not found or not executable", name)
	}
	for _, d := range strings.Split(dirs, ":") {
		if p := path.Join(d, name); d != "" && root.IsExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %s not found in the container's PATH", name)
}
