//go:build linux

package machine1

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/inroot"
	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/osrelease"
)

// DirImages is a minimal read-only image library: directories and .raw
// files in Dirs (first hit wins), as machined's discovery finds them,
// without btrfs, block devices or quotas. It stands in until the image
// library (internal/images) is wired in; symlinks are not followed.
type DirImages struct {
	Dirs []string
}

// List implements Images.
func (d DirImages) List() ([]Image, error) {
	seen := map[string]bool{}
	var out []Image
	for _, dir := range d.Dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			img, ok := imageOf(dir, e)
			if ok && !seen[img.Name] {
				seen[img.Name] = true
				out = append(out, img)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get implements Images.
func (d DirImages) Get(name string) (Image, error) {
	if names.ValidImage(name) == nil {
		for _, dir := range d.Dirs {
			for _, file := range []string{name, name + ".raw"} {
				fi, err := os.Lstat(filepath.Join(dir, file))
				if err != nil {
					continue
				}
				if img, ok := imageOf(dir, fs.FileInfoToDirEntry(fi)); ok && img.Name == name {
					return img, nil
				}
			}
		}
	}
	return Image{}, fmt.Errorf("no image %q known: %w", name, ErrNoSuchImage)
}

// OSRelease implements Images for directory images.
func (d DirImages) OSRelease(name string) (map[string]string, error) {
	img, err := d.Get(name)
	if err != nil {
		return nil, err
	}
	if img.Type != "directory" {
		return nil, fmt.Errorf("os-release of %s image: %w", img.Type, errNotSupported)
	}
	return osrelease.Read(img.Path)
}

// Hostname implements Images: /etc/hostname of a directory image.
func (d DirImages) Hostname(name string) (string, error) {
	data, err := d.readIn(name, "/etc/hostname", 4096)
	if errors.Is(err, unix.ENOENT) {
		return "", nil
	}
	return strings.TrimSpace(string(data)), err
}

// MachineID implements Images: /etc/machine-id of a directory image, 16
// bytes, or empty when it has none (or an uninitialized one).
func (d DirImages) MachineID(name string) ([]byte, error) {
	data, err := d.readIn(name, "/etc/machine-id", 64)
	if errors.Is(err, unix.ENOENT) {
		return []byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	id, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(id) != 16 {
		return []byte{}, nil
	}
	return id, nil
}

// MachineInfo implements Images: /etc/machine-info of a directory image.
func (d DirImages) MachineInfo(name string) (map[string]string, error) {
	data, err := d.readIn(name, "/etc/machine-info", osrelease.MaxSize)
	if errors.Is(err, unix.ENOENT) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	return osrelease.Parse(data)
}

// readIn reads file inside a directory image, never leaving it.
func (d DirImages) readIn(name, file string, max int64) ([]byte, error) {
	img, err := d.Get(name)
	if err != nil {
		return nil, err
	}
	if img.Type != "directory" {
		return nil, fmt.Errorf("%s of %s image: %w", file, img.Type, errNotSupported)
	}
	root, err := inroot.Open(img.Path)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return inroot.ReadFile(root, file, max)
}

// imageOf describes a directory entry as an image, if it is one.
func imageOf(dir string, e fs.DirEntry) (Image, bool) {
	name, typ := e.Name(), ""
	switch {
	case e.Type().IsDir():
		typ = "directory"
	case e.Type().IsRegular() && strings.HasSuffix(name, ".raw"):
		name, typ = strings.TrimSuffix(name, ".raw"), "raw"
	default:
		return Image{}, false
	}
	if names.ValidImage(name) != nil {
		return Image{}, false
	}
	p := filepath.Join(dir, e.Name())
	img := Image{Name: name, Type: typ, Path: p, Usage: unknownSize, Limit: unknownSize,
		UsageExclusive: unknownSize, LimitExclusive: unknownSize}
	var st unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME|unix.STATX_MTIME|unix.STATX_BLOCKS, &st) == nil {
		img.CreationTimestamp = uint64(st.Btime.Sec)*1e6 + uint64(st.Btime.Nsec)/1000
		if typ == "raw" {
			img.ModificationTimestamp = uint64(st.Mtime.Sec)*1e6 + uint64(st.Mtime.Nsec)/1000
			img.Usage, img.UsageExclusive = st.Blocks*512, st.Blocks*512
			img.ReadOnly = st.Mode&0o222 == 0
		}
	}
	img.ReadOnly = img.ReadOnly || readOnlyFS(p)
	return img, true
}

func readOnlyFS(p string) bool {
	var fs unix.Statfs_t
	err := unix.Statfs(p, &fs)
	return err == nil && fs.Flags&unix.ST_RDONLY != 0 || errors.Is(err, unix.EROFS)
}
