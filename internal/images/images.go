package images

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/paths"
)

// Errors of this package. Each wraps the errno the operation corresponds
// to, so errors.Is(err, syscall.EBUSY) also holds for ErrBusy.
var (
	// ErrNotFound: no image of that name in any image directory.
	ErrNotFound error = &sentinel{"no such image", syscall.ENOENT}
	// ErrExists: the new name is already taken.
	ErrExists error = &sentinel{"image already exists", syscall.EEXIST}
	// ErrBusy: the image is locked by a running machine (see Lock).
	ErrBusy error = &sentinel{"image is in use", syscall.EBUSY}
	// ErrReadOnly: vendor images (under /usr) and .host cannot be changed.
	ErrReadOnly error = &sentinel{"image is read-only", syscall.EROFS}
	// ErrNotSupported: the operation does not apply to this image type or
	// file system (size limits without btrfs quotas, cloning a block
	// device, metadata of a raw image with no known file system).
	ErrNotSupported error = &sentinel{"not supported", syscall.EOPNOTSUPP}
	// ErrSymlink: the pool entry is a symlink, which is never acted on
	// through (only unlinked or renamed).
	ErrSymlink error = &sentinel{"image is a symlink", syscall.ELOOP}
)

// sentinel is an error of this package that wraps an errno: what
// fmt.Errorf("msg: %w", errno) gives, without running fmt at every process
// start.
type sentinel struct {
	msg   string
	errno syscall.Errno
}

func (e *sentinel) Error() string { return e.msg + ": " + e.errno.Error() }

func (e *sentinel) Unwrap() error { return e.errno }

// Unknown is the value of a size or limit that is not known (UINT64_MAX,
// as machined reports it).
const Unknown = math.MaxUint64

// Type is the kind of an image.
type Type string

// The image types, with machined's names.
const (
	Directory Type = "directory"
	Subvolume Type = "subvolume"
	Raw       Type = "raw"
	Block     Type = "block"
)

// Image describes one image as the bus shows it.
type Image struct {
	// Name is the image name ("foo" for foo/ and foo.raw, ".host" for /).
	Name string
	// Path is the path of the entry in its image directory (not resolved).
	Path string
	// Type is directory, subvolume, raw or block.
	Type Type
	// ReadOnly: under /usr, .host, on a read-only file system, immutable,
	// a read-only btrfs subvolume, or a raw file without write bits.
	ReadOnly bool
	// CreationTimestamp and ModificationTimestamp are in µs since the
	// epoch; 0 if unknown.
	CreationTimestamp, ModificationTimestamp uint64
	// Usage, UsageExclusive, Limit and LimitExclusive are in bytes; Unknown
	// where the file system does not say.
	Usage, UsageExclusive, Limit, LimitExclusive uint64
	// Symlink reports whether the pool entry is a symlink.
	Symlink bool
	// vendor is set for images under <root>/usr.
	vendor bool
}

// Hidden reports whether the image is hidden (its name starts with '.').
func (i Image) Hidden() bool { return names.Hidden(i.Name) && i.Name != names.Host }

// IsHost reports whether the image is .host.
func (i Image) IsHost() bool { return i.Name == names.Host }

// Progress reports how far a copy got.
type Progress struct {
	// Files and Bytes are the entries and data bytes copied so far.
	Files, Bytes uint64
}

// CleanMode selects what Clean removes.
type CleanMode string

// The clean modes of CleanPool.
const (
	CleanHidden CleanMode = "hidden"
	CleanAll    CleanMode = "all"
)

// Removed is an image Clean removed and the space it used (Unknown if not
// known).
type Removed struct {
	// Name is the removed image's name.
	Name string
	// UsageExclusive is the space it used alone, Unknown if not known.
	UsageExclusive uint64
}

// Manager finds images and operates on them. It holds no state besides its
// paths, and all its methods may run concurrently; cross-process safety
// comes from the lock files under paths.Run. All operations need root.
type Manager struct {
	paths paths.Paths
}

// New returns a Manager for the image directories of p. New images (clones)
// go to p.Pool; locks live under p.Run.
func New(p paths.Paths) *Manager { return &Manager{paths: p} }

// validName checks a name given by a caller.
func validName(name string) error {
	if name == names.Host {
		return nil
	}
	if err := names.ValidImage(name); err != nil {
		return err
	}
	if strings.HasSuffix(name, ".nspawn") {
		return fmt.Errorf("image name %q ends in .nspawn: %w", name, names.ErrInvalid)
	}
	return nil
}

// underUsr reports whether path is below <root>/usr (a vendor image).
func (m *Manager) underUsr(path string) bool {
	usr := filepath.Join(m.paths.Root, "usr")
	rel, err := filepath.Rel(usr, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// settingsPaths are the places NAME.nspawn may live for an image in dir,
// in the order rename, clone and remove visit them.
func (m *Manager) settingsPaths(dir, name string) []string {
	var out []string
	for _, d := range m.paths.SettingsTrusted {
		out = append(out, filepath.Join(d, name+".nspawn"))
	}
	return append(out, filepath.Join(dir, name+".nspawn"))
}

// mutable returns ErrReadOnly for vendor and host images.
func mutable(img Image) error {
	if img.vendor || img.IsHost() {
		return fmt.Errorf("image %s: %w", img.Name, ErrReadOnly)
	}
	return nil
}

// opError wraps err with the operation and image name.
func opError(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s image %s: %w", op, name, err)
}
