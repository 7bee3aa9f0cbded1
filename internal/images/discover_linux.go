package images

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/names"
)

// Inode flags of FS_IOC_GETFLAGS (linux/fs.h).
const (
	fsImmutableFL = 0x10
	fsAppendFL    = 0x20
)

// Find returns the image called name: the first image directory that has
// <name> (a directory, btrfs subvolume or block device; a symlink is
// followed to decide) or <name>.raw (a regular file) wins. ".host" is the
// root directory. It returns ErrNotFound if no directory has it.
func (m *Manager) Find(name string) (Image, error) {
	if err := validName(name); err != nil {
		return Image{}, fmt.Errorf("find image: %w", err)
	}
	if name == names.Host {
		return m.host()
	}
	for _, dir := range m.paths.ImageDirs {
		img, err := m.inspect(dir, name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		return img, err
	}
	return Image{}, fmt.Errorf("find image %s: %w", name, ErrNotFound)
}

// List returns every visible image (first hit wins per name), .host
// included, sorted by name. Entries whose names are not valid image names
// (temporaries ".#...", settings files) are skipped.
func (m *Manager) List() ([]Image, error) {
	seen := map[string]bool{names.Host: true}
	host, err := m.host()
	if err != nil {
		return nil, err
	}
	out := []Image{host}
	for _, dir := range m.paths.ImageDirs {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list images: %w", err)
		}
		for _, e := range ents {
			name := strings.TrimSuffix(e.Name(), ".raw")
			if seen[name] || validName(name) != nil {
				continue
			}
			img, err := m.inspect(dir, name)
			if err != nil {
				continue // not an image, or vanished meanwhile
			}
			seen[name] = true
			out = append(out, img)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Inspect describes the image at path, which need not be in an image
// directory (a directory given to the spawner with -D, a file given with
// -i): its type, read-only state, timestamps and sizes. The name is the
// last path element without ".raw". ErrNotFound if path is no image.
func (m *Manager) Inspect(path string) (Image, error) {
	path = filepath.Clean(path)
	name := strings.TrimSuffix(filepath.Base(path), ".raw")
	var st unix.Stat_t
	if err := kernel.Retry("stat", func() error { return unix.Stat(path, &st) }); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return Image{}, fmt.Errorf("inspect image %s: %w", path, ErrNotFound)
		}
		return Image{}, fmt.Errorf("inspect image %s: %w", path, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return m.describe(name, path, Directory)
	case unix.S_IFBLK:
		return m.describe(name, path, Block)
	case unix.S_IFREG:
		return m.describe(name, path, Raw)
	}
	return Image{}, fmt.Errorf("inspect image %s: %w", path, ErrNotFound)
}

// host describes .host: the root directory, always read-only.
func (m *Manager) host() (Image, error) {
	img := Image{Name: names.Host, Path: m.paths.Root, Type: Directory, ReadOnly: true}
	return img, m.stamp(&img)
}

// inspect looks for name in dir, as <name> then <name>.raw.
func (m *Manager) inspect(dir, name string) (Image, error) {
	path := filepath.Join(dir, name)
	var st unix.Stat_t
	err := kernel.Retry("stat", func() error { return unix.Stat(path, &st) })
	if err == nil {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			return m.describe(name, path, Directory)
		case unix.S_IFBLK:
			return m.describe(name, path, Block)
		}
	} else if !errors.Is(err, unix.ENOENT) {
		return Image{}, fmt.Errorf("inspect image %s: %w", path, err)
	}
	raw := path + ".raw"
	err = kernel.Retry("stat", func() error { return unix.Stat(raw, &st) })
	if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
		return m.describe(name, raw, Raw)
	}
	return Image{}, ErrNotFound
}

// describe fills in an Image for a found entry.
func (m *Manager) describe(name, path string, typ Type) (Image, error) {
	img := Image{Name: name, Path: path, Type: typ, vendor: m.underUsr(path),
		Usage: Unknown, UsageExclusive: Unknown, Limit: Unknown, LimitExclusive: Unknown}
	var lst unix.Stat_t
	if err := kernel.Retry("lstat", func() error { return unix.Lstat(path, &lst) }); err != nil {
		return Image{}, fmt.Errorf("inspect image %s: %w", path, err)
	}
	img.Symlink = lst.Mode&unix.S_IFMT == unix.S_IFLNK
	if err := m.stamp(&img); err != nil {
		return Image{}, err
	}
	if err := probe(&img); err != nil {
		return Image{}, err
	}
	img.ReadOnly = img.vendor || img.ReadOnly
	return img, nil
}

// stamp sets the timestamps (and raw usage) from statx.
func (m *Manager) stamp(img *Image) error {
	var sx unix.Statx_t
	err := kernel.Retry("statx", func() error {
		return unix.Statx(unix.AT_FDCWD, img.Path, 0, unix.STATX_BTIME|unix.STATX_MTIME|unix.STATX_BLOCKS|unix.STATX_SIZE, &sx)
	})
	if err != nil {
		return fmt.Errorf("inspect image %s: %w", img.Path, err)
	}
	if sx.Mask&unix.STATX_BTIME != 0 {
		img.CreationTimestamp = usec(sx.Btime)
	}
	img.ModificationTimestamp = usec(sx.Mtime)
	if img.Type == Raw {
		img.Usage, img.UsageExclusive = sx.Blocks*512, sx.Blocks*512
		img.Limit, img.LimitExclusive = sx.Size, sx.Size
	}
	return nil
}

func usec(t unix.StatxTimestamp) uint64 {
	if t.Sec < 0 {
		return 0
	}
	return uint64(t.Sec)*1_000_000 + uint64(t.Nsec)/1000
}

// probe detects btrfs subvolumes (changing img.Type from Directory to
// Subvolume, and reading their quota) and read-only images.
func probe(img *Image) error {
	flags := unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY
	if img.Type == Directory {
		flags |= unix.O_DIRECTORY
	}
	fd, err := kernel.RetryInt("open", func() (int, error) { return unix.Open(img.Path, flags, 0) })
	if err != nil {
		return fmt.Errorf("inspect image %s: %w", img.Path, err)
	}
	defer unix.Close(fd)
	var sfs unix.Statfs_t
	if err := kernel.Retry("fstatfs", func() error { return unix.Fstatfs(fd, &sfs) }); err != nil {
		return fmt.Errorf("inspect image %s: %w", img.Path, err)
	}
	if img.Type == Directory && isSubvolume(fd, &sfs) {
		img.Type = Subvolume
	}
	ro := sfs.Flags&unix.ST_RDONLY != 0
	switch img.Type {
	case Subvolume:
		ro = ro || subvolReadOnly(fd)
		q := subvolQuota(fd, imageQgroupLevel)
		img.Usage, img.UsageExclusive, img.Limit, img.LimitExclusive = q.usage, q.usageExcl, q.limit, q.limitExcl
	case Block:
		v, err := unix.IoctlGetInt(fd, unix.BLKROGET)
		ro = ro || err == nil && v != 0
	case Raw:
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err == nil && st.Mode&0o222 == 0 {
			ro = true
		}
	}
	if img.Type != Block {
		if f, err := unix.IoctlGetInt(fd, unix.FS_IOC_GETFLAGS); err == nil && f&fsImmutableFL != 0 {
			ro = true
		}
	}
	img.ReadOnly = ro
	return nil
}
