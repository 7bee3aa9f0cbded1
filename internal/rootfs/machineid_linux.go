package rootfs

import (
	"io"
	"path"
	"strings"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// MachineID returns the image's /etc/machine-id (resolved inside dir;
// with a --pivot-root= directory pivot, the one of that tree) when it
// holds a valid ID, and "" otherwise (missing, empty, "uninitialized", or
// not a regular file).
func MachineID(dir, pivot string) string {
	r, err := openRoot(dir)
	if err != nil {
		return ""
	}
	defer r.Close()
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := kernel.Openat2(int(r.f.Fd()), strings.TrimLeft(path.Join(pivot, "etc/machine-id"), "/"), &how)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return ""
	}
	buf := make([]byte, 64)
	n, err := unix.Read(fd, buf)
	if err != nil && err != io.EOF {
		return ""
	}
	id := strings.TrimSpace(string(buf[:max(n, 0)]))
	return ValidID(id)
}

// ValidID returns id when it is 32 lowercase hex digits and not all zero,
// and "" otherwise.
func ValidID(id string) string {
	if len(id) != 32 || strings.Trim(id, "0") == "" {
		return ""
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return ""
		}
	}
	return id
}
