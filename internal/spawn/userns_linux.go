package spawn

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/berth-dev/berth/internal/idmap"
	"github.com/berth-dev/berth/internal/nspawnopts"
	"github.com/berth-dev/berth/internal/privusers"
	"golang.org/x/sys/unix"
)

// users is the spawner's side of a user-namespaced machine: the prepared
// range (held until the machine ends) and the detached idmapped mounts
// handed to the stage.
type users struct {
	p     *privusers.Prepared
	trees []*os.File
}

// setupUsers prepares the machine's user namespace (range, ownership,
// idmapped root and binds) and records it in sc. It returns nil without a
// user namespace.
func setupUsers(sc *stageConfig, o Options) (*users, error) {
	c := &sc.Config
	if c.PrivateUsers.Mode == privusers.ModeNo {
		return nil, nil
	}
	if c.Boot || c.Ephemeral || c.Volatile != nspawnopts.VolatileNo {
		return nil, errors.New("--private-users= cannot be combined with --boot, --ephemeral or --volatile yet")
	}
	bar, endBar := privusers.TerminalProgress(o.Stderr)
	p, err := privusers.Prepare(privusers.Config{
		Paths: o.Paths, Machine: c.Machine, Root: c.Directory,
		Users: c.PrivateUsers, Ownership: c.PrivateUsersOwnership, ReadOnly: c.ReadOnly, Progress: bar,
	})
	endBar()
	if err != nil {
		return nil, err
	}
	u := &users{p: p}
	logf(o, c.Quiet, "Private users: UID range %d-%d, ownership %s (%s).\n",
		p.Range.Base, p.Range.Base+p.Range.Size-1, p.Ownership, p.Reason)
	if err := u.mounts(sc); err != nil {
		u.release()
		return nil, err
	}
	sc.UIDMap = p.Mappings()
	return u, nil
}

// mounts makes the idmapped root (ownership map) and binds and gives each
// its descriptor number in the stage (fd 3 is the sync socket).
func (u *users) mounts(sc *stageConfig) error {
	if u.p.Ownership == privusers.OwnershipMap {
		t, err := u.p.RootTree()
		if err != nil {
			return err
		}
		sc.RootTree = u.add(t.File())
	}
	sc.BindTrees = make([]int, len(sc.Config.Binds))
	for i, b := range sc.Config.Binds {
		if b.IDMap.Kind == idmap.BindPlain || b.SourceInRoot {
			continue
		}
		f, err := bindTree(u.p, b)
		if err != nil {
			return err
		}
		sc.BindTrees[i] = u.add(f)
	}
	return nil
}

// add keeps f for the stage and returns its descriptor number there.
func (u *users) add(f *os.File) int {
	u.trees = append(u.trees, f)
	return syncFD + len(u.trees)
}

// bindTree returns a detached clone of b's source idmapped as b asks.
func bindTree(p *privusers.Prepared, b nspawnopts.Bind) (*os.File, error) {
	ub, gb := b.IDMap, b.IDMap
	if ub.Kind == idmap.BindRootIdmap {
		var st unix.Stat_t
		if err := unix.Stat(b.Source, &st); err != nil {
			return nil, fmt.Errorf("bind %s: %w", b.Source, err)
		}
		ub.Owner, gb.Owner = st.Uid, st.Gid
	}
	uids, err := idmap.BindMappings(p.Range, ub)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", b.Source, err)
	}
	gids, err := idmap.BindMappings(p.Range, gb)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", b.Source, err)
	}
	ns, err := idmap.NewUserNS(uids, gids)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", b.Source, err)
	}
	defer ns.Close()
	t, err := idmap.IdmappedClone(b.Source, ns, b.Recursive)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", b.Source, err)
	}
	return t.File(), nil
}

// closeTrees closes the spawner's copies of the trees once the stage has
// its own.
func (u *users) closeTrees() {
	if u == nil {
		return
	}
	for _, f := range u.trees {
		f.Close()
	}
	u.trees = nil
}

// release closes the trees and frees the range when the machine ended.
func (u *users) release() {
	if u == nil {
		return
	}
	u.closeTrees()
	_ = u.p.Release()
}

// extraFiles returns the trees to pass to the stage after the sync socket.
func (u *users) extraFiles() []*os.File {
	if u == nil {
		return nil
	}
	return u.trees
}

// userNSAttr sets the process attributes that put the payload into the
// machine's user namespace: its IDs 0..n-1 on the range, setgroups denied.
// The payload becomes the namespace's root (or attr's user, without
// supplementary groups).
func userNSAttr(attr *syscall.SysProcAttr, m []idmap.Mapping) {
	if attr.Credential == nil {
		attr.Credential = &syscall.Credential{}
	}
	attr.Credential.Groups, attr.Credential.NoSetGroups = nil, true
	ids := make([]syscall.SysProcIDMap, len(m))
	for i, x := range m {
		ids[i] = syscall.SysProcIDMap{ContainerID: int(x.Inner), HostID: int(x.Outer), Size: int(x.Size)}
	}
	attr.Cloneflags |= unix.CLONE_NEWUSER
	attr.UidMappings, attr.GidMappings = ids, ids
	attr.GidMappingsEnableSetgroups = false
}
