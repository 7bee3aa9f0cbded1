package imagefiles

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/inroot"
)

// Open opens the image root at path (O_PATH|O_DIRECTORY; path itself may
// be a symlink, as pool entries may be).
func Open(path string) (*Root, error) {
	f, err := inroot.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open image root %s: %w", path, err)
	}
	return &Root{f: f}, nil
}

// Close closes the root.
func (r *Root) Close() error { return r.f.Close() }

// ReadFile reads name (a path inside the image, "/etc/hostname") with
// every rule of the package and at most limit bytes. A missing file wraps
// os.ErrNotExist; a symlink as last component, a non-regular file or a
// larger file wraps ErrUnsafe.
func (r *Root) ReadFile(name string, limit int64) ([]byte, error) {
	data, err := inroot.ReadFileNoFollow(r.f, strings.TrimPrefix(name, "/"), limit)
	switch {
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("read %s in %s: %w", name, r.f.Name(), ErrSymlink)
	case errors.Is(err, inroot.ErrNotRegular), errors.Is(err, inroot.ErrTooBig):
		return nil, fmt.Errorf("read %s in %s: %w: %w", name, r.f.Name(), err, ErrUnsafe)
	case err != nil:
		return nil, fmt.Errorf("read %s in %s: %w", name, r.f.Name(), err)
	}
	return data, nil
}
