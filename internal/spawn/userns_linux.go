package spawn

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/berth-dev/berth/internal/containercgroup"
	"github.com/berth-dev/berth/internal/idmap"
	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/berth-dev/berth/internal/privusers"
	"github.com/berth-dev/berth/internal/rootfs"
	"golang.org/x/sys/unix"
)

// users is the spawner's side of a user-namespaced machine: the prepared
// range, held until the machine ends. A nil *users is a privileged
// machine.
type users struct {
	p *privusers.Prepared
}

// startCarrier returns the carrier of the user namespace of an idmapped
// root, when the machine likely needs one (nil otherwise, and for a raw
// image, whose tree is not attached yet): a clone sharing the spawner's
// memory, made when Prepare maps it (cloneCarrier), cheaper than a
// carrier started early on a thread of its own.
func startCarrier(c *nspawnopts.Config) *idmap.Carrier {
	if c.Image != "" || !privusers.MayMap(c.PrivateUsers, c.PrivateUsersOwnership, c.Directory) {
		return nil
	}
	return idmap.NewCarrier(cloneCarrier)
}

// closeCarrier ends the carrier if Prepare did not use it.
func closeCarrier(c *idmap.Carrier) {
	if c != nil {
		c.Close()
	}
}

// setupUsers prepares the machine's user namespace (range and ownership)
// in the spawner's mount namespace, where a raw image is attached, with
// the early carrier if there is one. It returns nil without a user
// namespace.
func setupUsers(sc *stageConfig, o Options, ns *mountNS, carrier *idmap.Carrier) (*users, error) {
	c := &sc.Config
	if c.PrivateUsers.Mode == privusers.ModeNo {
		return nil, nil
	}
	var p *privusers.Prepared
	err := ns.do(func() error {
		bar, endBar := privusers.TerminalProgress(o.Stderr)
		defer endBar()
		var err error
		p, err = privusers.Prepare(privusers.Config{
			Paths: o.Paths, Machine: c.Machine, Root: c.Directory,
			Users: c.PrivateUsers, Ownership: c.PrivateUsersOwnership, ReadOnly: c.ReadOnly,
			Volatile: c.Ephemeral || c.Volatile != nspawnopts.VolatileNo, Progress: bar,
			Carrier: carrier,
		})
		return err
	})
	closeCarrier(carrier)
	if err != nil {
		return nil, err
	}
	logf(o, c.Quiet, "Private users: UID range %d-%d, ownership %s (%s).\n",
		p.Range.Base, p.Range.Base+p.Range.Size-1, p.Ownership, p.Reason)
	return &users{p: p}, nil
}

// mappings returns the uid_map and gid_map of the container's user
// namespace (nil without one).
func (u *users) mappings() []idmap.Mapping {
	if u == nil {
		return nil
	}
	return u.p.Mappings()
}

// trees fills in the user namespace part of spec: the shift, and the
// detached idmapped mounts of the root (ownership map) and of the binds
// that ask for one, made afresh for each start. The returned func closes
// them once rootfs.Prepare attached them.
func (u *users) trees(spec *rootfs.Spec, binds []nspawnopts.Bind) (func(), error) {
	var files []*os.File
	done := func() {
		for _, f := range files {
			f.Close()
		}
	}
	if u == nil {
		return done, nil
	}
	spec.UserNS, spec.Shift = true, u.p.Range.Base
	if u.p.Ownership == privusers.OwnershipMap {
		t, err := u.p.RootTree()
		if err != nil {
			return done, err
		}
		files = append(files, t.File())
		spec.RootTree = int(t.File().Fd())
	}
	spec.BindTrees = make([]int, len(binds))
	for i, b := range binds {
		if b.IDMap.Kind == idmap.BindPlain || b.SourceInRoot {
			continue
		}
		t, err := u.p.BindTree(b.Source, b.IDMap, b.Recursive)
		if err != nil {
			return done, err
		}
		files = append(files, t.File())
		spec.BindTrees[i] = int(t.File().Fd())
	}
	return done, nil
}

// release frees the range when the machine ended.
func (u *users) release() {
	if u != nil {
		_ = u.p.Release()
	}
}

// userNSAttr sets the process attributes that start the stage in the
// machine's user namespace, created together with (and owning) its other
// namespaces: IDs 0..n-1 on the range, setgroups allowed (the spawner
// writes the maps as host root, as nspawn does), and the stage becomes
// the namespace's root.
func userNSAttr(attr *syscall.SysProcAttr, m []idmap.Mapping) {
	ids := make([]syscall.SysProcIDMap, len(m))
	for i, x := range m {
		ids[i] = syscall.SysProcIDMap{ContainerID: int(x.Inner), HostID: int(x.Outer), Size: int(x.Size)}
	}
	attr.Cloneflags |= unix.CLONE_NEWUSER
	attr.UidMappings, attr.GidMappings = ids, ids
	attr.GidMappingsEnableSetgroups = true
	attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
}

// cgroupFiles are the files of the container's cgroup its root needs to
// own to manage its subtree (a booted init), as nspawn chowns them.
var cgroupFiles = []string{"", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"}

// ownCgroup gives the cgroup of process pid to the user namespace's root.
func (u *users) ownCgroup(cgroupRoot string, pid int) error {
	if u == nil {
		return nil
	}
	_, mnt := containercgroup.Detect(cgroupRoot)
	rel, err := containercgroup.PathOf(pid)
	if mnt == "" || err != nil {
		return err
	}
	base := int(u.p.Range.Base)
	for _, name := range cgroupFiles {
		p := filepath.Join(mnt, rel, name)
		if err := os.Lchown(p, base, base); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cgroup: give %s to the container: %w", p, err)
		}
	}
	return nil
}
