package imagefiles

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// Open opens the image root at path (O_PATH|O_DIRECTORY; path itself may
// be a symlink, as pool entries may be).
func Open(path string) (*Root, error) {
	fd, err := kernel.RetryInt("open", func() (int, error) {
		return unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("open image root %s: %w", path, err)
	}
	return &Root{f: os.NewFile(uintptr(fd), path)}, nil
}

// Close closes the root.
func (r *Root) Close() error { return r.f.Close() }

// ReadFile reads name (a path inside the image, "/etc/hostname") with
// every rule of the package and at most limit bytes. A missing file wraps
// os.ErrNotExist; a symlink as last component, a non-regular file or a
// larger file wraps ErrUnsafe.
func (r *Root) ReadFile(name string, limit int64) ([]byte, error) {
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := kernel.RetryInt("openat2", func() (int, error) {
		return unix.Openat2(int(r.f.Fd()), strings.TrimPrefix(name, "/"), &how)
	})
	switch {
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("read %s in %s: %w", name, r.f.Name(), ErrSymlink)
	case err != nil:
		return nil, fmt.Errorf("read %s in %s: %w", name, r.f.Name(), err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s in %s: not a regular file: %w", name, r.f.Name(), ErrUnsafe)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s in %s: larger than %d bytes: %w", name, r.f.Name(), limit, ErrUnsafe)
	}
	return data, nil
}
