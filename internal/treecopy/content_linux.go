//go:build linux

package treecopy

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// copyBufSize is the buffer of the read/write fallback.
const copyBufSize = 128 << 10

// copyContent copies the first size bytes of src to dst, keeping holes:
// only the data segments (SEEK_DATA/SEEK_HOLE) are copied, and the file
// is extended to size at the end, so a sparse file stays sparse.
func copyContent(dst, src *os.File, size int64) error {
	var off int64
	for off < size {
		data, err := unix.Seek(int(src.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // the rest is a hole
		}
		if err != nil { // no SEEK_DATA here: copy it all
			return copyRange(dst, src, off, size-off)
		}
		if data >= size {
			break
		}
		hole, err := unix.Seek(int(src.Fd()), data, unix.SEEK_HOLE)
		if err != nil || hole > size {
			hole = size
		}
		if err := copyRange(dst, src, data, hole-data); err != nil {
			return err
		}
		off = hole
	}
	if err := dst.Truncate(size); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}

// copyRange copies n bytes at off from src to dst at the same offset:
// copy_file_range where the kernel can, else read and write.
func copyRange(dst, src *os.File, off, n int64) error {
	for n > 0 {
		in, out := off, off
		c, err := kernel.RetryInt("copy_file_range", func() (int, error) {
			return unix.CopyFileRange(int(src.Fd()), &in, int(dst.Fd()), &out, int(min(n, 1<<30)), 0)
		})
		if err != nil || c == 0 {
			return copyRangeRW(dst, src, off, n)
		}
		off += int64(c)
		n -= int64(c)
	}
	return nil
}

// copyRangeRW is copyRange with pread and pwrite; a source that ends
// early ends the copy.
func copyRangeRW(dst, src *os.File, off, n int64) error {
	_, err := io.CopyBuffer(io.NewOffsetWriter(dst, off), io.NewSectionReader(src, off, n), make([]byte, copyBufSize))
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}
