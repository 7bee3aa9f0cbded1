package spawn

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/containercgroup"
	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/rootfs"
)

// mountNS is the spawner's mount namespace thread: one OS thread, locked
// and never handed back to the Go scheduler, whose mount namespace (and
// with it its root, working directory and umask) is its own. Between
// starts it is in its base namespace: the host's, or, where something has
// to stay mounted across starts or the stage is started on the finished
// tree (a raw image, a user namespace, --network-namespace-path), a
// private one made a slave of the host's. Whatever builds mounts as host
// root runs on it (do): the raw image, the idmapped trees, rootfs.Prepare.
// The stage is started from it too. The thread lives until close: the
// stage's parent-death signal belongs to the thread that started it.
type mountNS struct {
	fns chan func()
	// base is the thread's namespace between starts (a descriptor).
	base int
}

// newMountNS starts the thread, in a private namespace of its own if
// private is set, in the host's otherwise.
func newMountNS(private bool) (*mountNS, error) {
	m := &mountNS{fns: make(chan func()), base: -1}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		var err error
		if private {
			err = unshareSlave()
		}
		if err == nil {
			m.base, err = kernel.RetryInt("open", func() (int, error) {
				return unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			})
		}
		errc <- err
		if err != nil {
			return
		}
		for fn := range m.fns {
			fn()
		}
	}()
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("private mount namespace: %w", err)
	}
	return m, nil
}

// unshareSlave gives the calling thread a new mount namespace, a copy of
// its current one in which every mount is a slave of the original.
func unshareSlave() error {
	err := kernel.Retry("unshare", func() error { return unix.Unshare(unix.CLONE_NEWNS) })
	if err == nil {
		err = kernel.Retry("mount", func() error { return unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, "") })
	}
	return err
}

// do runs fn on the namespace's thread and returns its error.
func (m *mountNS) do(fn func() error) error {
	errc := make(chan error, 1)
	m.fns <- func() { errc <- fn() }
	return <-errc
}

// close ends the thread, and with it its private namespace, if it has one,
// once the stage is gone.
func (m *mountNS) close() {
	close(m.fns)
	unix.Close(m.base)
}

// inFresh runs fn on the thread in a fresh copy of the base namespace and
// returns the thread to the base namespace afterwards. The copy lives on
// only in a process fn started in it.
func (m *mountNS) inFresh(fn func() error) error {
	return m.do(func() error {
		if err := kernel.Retry("unshare", func() error { return unix.Unshare(unix.CLONE_NEWNS) }); err != nil {
			return fmt.Errorf("mount namespace: %w", err)
		}
		err := kernel.Retry("mount", func() error { return unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, "") })
		if err != nil {
			err = fmt.Errorf("mount namespace: %w", err)
		} else {
			err = fn()
		}
		leave := kernel.Retry("setns", func() error { return unix.Setns(m.base, unix.CLONE_NEWNS) })
		if leave != nil {
			leave = fmt.Errorf("leave the container's mount namespace: %w", leave)
		}
		return errors.Join(err, leave)
	})
}

// startStage builds the host half of the container's tree (rootfs.Prepare),
// computes the stage's configuration in it (planStage) and starts the
// stage. Without a user namespace or --network-namespace-path (joinsRoot)
// this happens in a fresh copy of the thread's base namespace, and the
// stage is started first, in that copy, so that its start overlaps
// Prepare: the thread leaves the copy to the stage, which gets the root
// with its configuration, and nothing is left to take down in the
// spawner. Otherwise the stage is started on the finished tree, in new
// namespaces owned by the container's user namespace; with
// --network-namespace-path both happen in that network namespace, so that
// /sys shows its links. The returned detach then takes the tree out of
// the spawner's namespace again; the caller runs it once the stage has
// its own copy.
func (m *mountNS) startStage(sc *stageConfig, o Options, cg *containercgroup.Group) (st *stage, detach func() error, err error) {
	var root *rootfs.Root
	early := joinsRoot(sc)
	build := func() error {
		return inNetNS(sc.Config.Network.NamespacePath, func() error {
			if early {
				if st, err = startStage(sc, o, cg); err != nil {
					return err
				}
			}
			if root, err = prepareRoot(sc, o); err != nil {
				return err
			}
			if err = planIn(sc, root); err == nil {
				err = enterStage(sc, o, cg, root, &st)
			}
			if early { // the tree stays in the copy the stage shares
				root.Close()
			} else if err != nil {
				err = errors.Join(err, root.Detach())
			}
			return err
		})
	}
	if early {
		err = m.inFresh(build)
	} else {
		err = m.do(build)
	}
	if err != nil {
		if st != nil {
			st.kill()
			st.close()
		}
		return nil, nil, err
	}
	if early {
		return st, func() error { return nil }, nil
	}
	return st, func() error { return m.do(root.Detach) }, nil
}

// prepareRoot builds the host half of the tree in the thread's current
// mount namespace.
func prepareRoot(sc *stageConfig, o Options) (*rootfs.Root, error) {
	spec := rootSpec(sc)
	spec.HostJournal = o.Paths.Journal
	spec.Incoming = propagationDir(o.Paths, sc.Config.Machine)
	closeTrees, err := sc.users.trees(spec, sc.Config.Binds)
	defer closeTrees()
	if err != nil {
		return nil, err
	}
	return rootfs.Prepare(spec)
}

// enterStage gives an early stage the root to enter, or starts the stage
// now in the root.
func enterStage(sc *stageConfig, o Options, cg *containercgroup.Group, root *rootfs.Root, st **stage) error {
	if *st != nil {
		fd, err := unix.FcntlInt(root.Fd(), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return fmt.Errorf("root for the stage: %w", err)
		}
		(*st).root = fd
		return nil
	}
	if err := root.Enter(); err != nil {
		return err
	}
	var err error
	*st, err = startStage(sc, o, cg)
	return err
}

// inNetNS runs fn in the network namespace at path ("" for the current
// one) and switches back. It runs on the namespace's thread.
func inNetNS(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", path, os.NewSyscallError("open", err))
	}
	defer unix.Close(target)
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("network namespace: %w", os.NewSyscallError("open", err))
	}
	defer unix.Close(self)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("join network namespace %s: %w", path, os.NewSyscallError("setns", err))
	}
	defer unix.Setns(self, unix.CLONE_NEWNET)
	return fn()
}

// attachRaw attaches the file system of the raw image at path (a loop
// device freed when the last mount goes) on dir, in the spawner's mount
// namespace.
func attachRaw(path string, ro bool, dir string) error {
	tree, err := mountRaw(path, ro)
	if err != nil {
		return err
	}
	defer tree.Close()
	err = kernel.Retry("move_mount", func() error {
		return unix.MoveMount(int(tree.Fd()), "", unix.AT_FDCWD, dir, unix.MOVE_MOUNT_F_EMPTY_PATH)
	})
	if err != nil {
		return fmt.Errorf("image %s: attach: %w", path, err)
	}
	return nil
}

// planIn computes and encodes the stage's configuration in the host half
// of the tree root.
func planIn(sc *stageConfig, root *rootfs.Root) error {
	p, err := planStage(sc, root)
	if err == nil {
		sc.plan, err = encodePlan(p)
	}
	return err
}

// rootSpec turns the configuration into the rootfs specification (the
// user namespace part is the spawner's, see users.trees).
func rootSpec(sc *stageConfig) *rootfs.Spec {
	c := &sc.Config
	return &rootfs.Spec{
		Dir: c.Directory, ReadOnly: c.ReadOnly, Volatile: c.Volatile, Ephemeral: c.Ephemeral,
		PivotRoot: c.PivotRoot.New, PivotOld: c.PivotRoot.Old,
		Binds: c.Binds, TmpFS: c.TmpFS, Overlays: c.Overlays, Inaccessible: c.Inaccessible,
		Host: sc.Host, ResolvConf: c.ResolvConf, Timezone: c.Timezone, PrivateNetwork: c.PrivateNetwork,
		JoinedNetNS: c.Network.NamespacePath != "",
		LinkJournal: c.LinkJournal, MachineID: stripDashes(sc.UUID),
	}
}
