package rootfs

import (
	"fmt"
	"os"
	"strings"

	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/nspawnopts"
	"golang.org/x/sys/unix"
)

// customMounts applies --bind/--bind-ro, --tmpfs, --overlay and
// --inaccessible, in that order (nspawn's order of mount_custom).
func (r *Root) customMounts(s *Spec) error {
	for i, b := range s.Binds {
		if i < len(s.BindTrees) && s.BindTrees[i] != 0 {
			if err := r.bindDetached(b, s.BindTrees[i]); err != nil {
				return err
			}
			continue
		}
		if err := r.bind(b, s); err != nil {
			return err
		}
	}
	for _, t := range s.TmpFS {
		if err := r.tmpfs(t, s); err != nil {
			return err
		}
	}
	for _, o := range s.Overlays {
		if err := r.overlay(o, s); err != nil {
			return err
		}
	}
	for _, p := range s.Inaccessible {
		if err := r.inaccessible(p); err != nil {
			return err
		}
	}
	return nil
}

// bind applies one --bind or --bind-ro.
func (r *Root) bind(b nspawnopts.Bind, s *Spec) error {
	if b.Source == "" {
		target, err := r.mkdirAll(b.Dest)
		if err != nil {
			return err
		}
		defer target.Close()
		flags := uintptr(nosuidNodev)
		if b.ReadOnly {
			flags |= unix.MS_RDONLY
		}
		return mountOn(target, b.Dest, "tmpfs", "tmpfs", flags, s.tmpfsData("mode=0755"))
	}
	src, err := r.bindSource(b)
	if err != nil {
		return err
	}
	defer src.Close()
	target, err := r.targetLike(src, b.Dest)
	if err != nil {
		return err
	}
	defer target.Close()
	return bindTree(src, target, b.Dest, b.Recursive, roAttr(b.ReadOnly))
}

// bindDetached attaches the detached (idmapped) mount tree, made by the
// spawner from b's source, at b's destination. The caller keeps tree.
func (r *Root) bindDetached(b nspawnopts.Bind, tree int) error {
	var st unix.Stat_t
	if err := kernel.Retry("fstat", func() error { return unix.Fstat(tree, &st) }); err != nil {
		return fmt.Errorf("stat %s: %w", b.Source, err)
	}
	target, err := r.targetFor(st, b.Dest)
	if err != nil {
		return err
	}
	defer target.Close()
	return attachTree(tree, target, b.Dest, roAttr(b.ReadOnly))
}

// attachTree sets attrs on the detached mount tree and attaches it at
// target.
func attachTree(tree int, target *os.File, what string, attrs uint64) error {
	if attrs != 0 {
		attr := unix.MountAttr{Attr_set: attrs}
		err := kernel.Retry("mount_setattr", func() error {
			return unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
		})
		if err != nil {
			return fmt.Errorf("mount %s: set attributes: %w", what, err)
		}
	}
	err := kernel.Retry("move_mount", func() error {
		return unix.MoveMount(tree, "", int(target.Fd()), "",
			unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	})
	if err != nil {
		return fmt.Errorf("attach %s: %w", what, err)
	}
	return nil
}

// bindSource opens a bind source: a host path, or with SourceInRoot a path
// resolved inside the root.
func (r *Root) bindSource(b nspawnopts.Bind) (*os.File, error) {
	if b.SourceInRoot {
		return r.openIn(b.Source, false)
	}
	fd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open(b.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("bind source %s: %w", b.Source, err)
	}
	return os.NewFile(uintptr(fd), b.Source), nil
}

// targetLike opens (creating it when missing) the mount target dest: a
// directory when src is one, a file otherwise.
func (r *Root) targetLike(src *os.File, dest string) (*os.File, error) {
	var st unix.Stat_t
	if err := kernel.Retry("fstat", func() error { return unix.Fstat(int(src.Fd()), &st) }); err != nil {
		return nil, fmt.Errorf("stat %s: %w", src.Name(), err)
	}
	return r.targetFor(st, dest)
}

// targetFor opens (creating it when missing) the mount target dest for a
// source with the status st.
func (r *Root) targetFor(st unix.Stat_t, dest string) (*os.File, error) {
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return r.mkdirAll(dest)
	}
	return r.mkfileAll(dest)
}

// Mount attribute sets for bindTree.
const (
	attrRO        = unix.MOUNT_ATTR_RDONLY
	attrNoDevSUID = unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV
	attrLocked    = attrRO | attrNoDevSUID | unix.MOUNT_ATTR_NOEXEC
)

// roAttr returns attrRO when ro is set.
func roAttr(ro bool) uint64 {
	if ro {
		return attrRO
	}
	return 0
}

// bindTree clones the mount tree at src (recursively or not), sets the
// MOUNT_ATTR_* bits attrs on it, and attaches it at target. Nothing is
// resolved by path: both ends are handles.
func bindTree(src, target *os.File, what string, recursive bool, attrs uint64) error {
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := kernel.RetryInt("open_tree", func() (int, error) { return unix.OpenTree(int(src.Fd()), "", uint(flags)) })
	if err != nil {
		return fmt.Errorf("bind %s: %w", what, err)
	}
	defer unix.Close(tree)
	if attrs != 0 {
		attr := unix.MountAttr{Attr_set: attrs}
		err := kernel.Retry("mount_setattr", func() error {
			return unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
		})
		if err != nil {
			return fmt.Errorf("bind %s: set attributes: %w", what, err)
		}
	}
	err = kernel.Retry("move_mount", func() error {
		return unix.MoveMount(tree, "", int(target.Fd()), "",
			unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	})
	if err != nil {
		return fmt.Errorf("attach bind %s: %w", what, err)
	}
	return nil
}

// tmpfs applies one --tmpfs.
func (r *Root) tmpfs(t nspawnopts.TmpFS, s *Spec) error {
	target, err := r.mkdirAll(t.Dest)
	if err != nil {
		return err
	}
	defer target.Close()
	return mountOn(target, t.Dest, "tmpfs", "tmpfs", unix.MS_NODEV|unix.MS_STRICTATIME, s.tmpfsData(t.Options))
}

// overlay applies one --overlay or --overlay-ro. A writable overlay
// without an upper directory gets a throw-away one on a tmpfs mounted at
// the destination first.
func (r *Root) overlay(o nspawnopts.Overlay, s *Spec) error {
	lowers, opts, err := r.overlayLowers(o)
	defer closeFiles(lowers)
	if err != nil {
		return err
	}
	target, err := r.mkdirAll(o.Dest)
	if err != nil {
		return err
	}
	defer target.Close()
	if o.ReadOnly {
		return mountOn(target, o.Dest, "overlay", "overlay", unix.MS_RDONLY, opts)
	}
	upper, work, scratch, err := r.overlayUpper(o, target, s)
	if err != nil {
		return err
	}
	opts += ",upperdir=" + upper + ",workdir=" + work
	if scratch == nil {
		return mountOn(target, o.Dest, "overlay", "overlay", 0, opts)
	}
	defer scratch.Close()
	top, err := r.openIn(o.Dest, false) // the scratch tmpfs, to stack on
	if err != nil {
		return err
	}
	defer top.Close()
	return mountOn(top, o.Dest, "overlay", "overlay", 0, opts)
}

// overlayLowers opens the lower directories and returns the lowerdir
// option (nspawn lists the lowest layer first; overlayfs wants it last).
func (r *Root) overlayLowers(o nspawnopts.Overlay) ([]*os.File, string, error) {
	var files []*os.File
	opts := "lowerdir="
	for i := range o.Lower {
		l := o.Lower[len(o.Lower)-1-i]
		f, err := r.bindSource(nspawnopts.Bind{Source: trimPlus(l), SourceInRoot: l != trimPlus(l)})
		if err != nil {
			return files, "", err
		}
		files = append(files, f)
		if i > 0 {
			opts += ":"
		}
		opts += fdPath(f)
	}
	return files, opts, nil
}

// overlayUpper returns the upperdir and workdir options: the spawner's
// host directories, or a tmpfs mounted at the destination (scratch, which
// the caller closes after the overlay covers it).
func (r *Root) overlayUpper(o nspawnopts.Overlay, target *os.File, s *Spec) (upper, work string, scratch *os.File, err error) {
	if o.Upper != "" {
		if strings.HasPrefix(o.Upper, "+") || o.Work == "" {
			return "", "", nil, fmt.Errorf("overlay %s: an upper directory inside the container is not supported", o.Dest)
		}
		return o.Upper, o.Work, nil, nil
	}
	if err := mountOn(target, o.Dest, "tmpfs", "tmpfs", nosuidNodev, s.tmpfsData("mode=0755")); err != nil {
		return "", "", nil, err
	}
	scratchPath, err := r.openIn(o.Dest, false)
	if err != nil {
		return "", "", nil, err
	}
	defer scratchPath.Close()
	if scratch, err = reopenDir(scratchPath); err != nil {
		return "", "", nil, err
	}
	for _, d := range []string{"upper", "work"} {
		if err := unix.Mkdirat(int(scratch.Fd()), d, 0o755); err != nil {
			scratch.Close()
			return "", "", nil, fmt.Errorf("overlay %s: %w", o.Dest, err)
		}
	}
	if err := s.chownAt(scratch, "upper"); err != nil {
		scratch.Close()
		return "", "", nil, err
	}
	return fdPath(scratch) + "/upper", fdPath(scratch) + "/work", scratch, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

func trimPlus(s string) string {
	if len(s) > 0 && s[0] == '+' {
		return s[1:]
	}
	return s
}

// inaccessible covers p with an empty, mode 0000, read-only mount of the
// same kind (directory or file).
func (r *Root) inaccessible(p string) error {
	target, err := r.openIn(p, false)
	if err != nil {
		return err
	}
	defer target.Close()
	var st unix.Stat_t
	if err := kernel.Retry("fstat", func() error { return unix.Fstat(int(target.Fd()), &st) }); err != nil {
		return fmt.Errorf("stat %s: %w", p, err)
	}
	kind := map[uint32]string{unix.S_IFDIR: "dir", unix.S_IFIFO: "fifo", unix.S_IFSOCK: "sock",
		unix.S_IFCHR: "chr", unix.S_IFBLK: "blk"}[st.Mode&unix.S_IFMT]
	if kind == "" {
		kind = "reg"
	}
	node, err := r.openIn("/run/host/inaccessible/"+kind, true)
	if err != nil {
		return err
	}
	defer node.Close()
	return bindTree(node, target, p, false, attrRO)
}
