package machine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// store keeps one state file per machine in dir.
type store struct {
	dir string
}

// tempPrefix starts the names of files being written; load removes them.
const tempPrefix = ".#"

// save writes r atomically: a temp file in the same directory, renamed
// over the old file (see writeAtomic). The file is encoded
// into a buffer on the stack and written with plain system calls, so a
// registration leaves no garbage here.
func (s store) save(r record) error {
	var buf [1024]byte
	data := appendState(buf[:0], r)
	err := writeAtomic(s.dir, r.Name, data)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(s.dir, 0o755); err == nil {
			err = writeAtomic(s.dir, r.Name, data)
		}
	}
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// remove deletes the state file of name; a missing file is fine.
func (s store) remove(name string) error {
	err := removeFile(s.dir, name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove state: %w", err)
	}
	return nil
}

// loaded is one state file read by load.
type loaded struct {
	file string
	rec  record
	err  error
}

// load reads every state file in dir. Leftover temp files are removed.
// Files that cannot be decoded come back with err set.
func (s store) load() ([]loaded, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	var out []loaded
	for _, e := range ents {
		path := filepath.Join(s.dir, e.Name())
		if strings.HasPrefix(e.Name(), tempPrefix) {
			_ = os.Remove(path)
			continue
		}
		out = append(out, s.loadOne(path, e))
	}
	return out, nil
}

func (s store) loadOne(path string, e fs.DirEntry) loaded {
	l := loaded{file: e.Name()}
	if !e.Type().IsRegular() {
		l.err = fmt.Errorf("%s: not a regular file: %w", path, ErrBadState)
		return l
	}
	data, err := readBounded(path, maxStateSize)
	if err != nil {
		l.err = fmt.Errorf("%s: %w: %w", path, ErrBadState, err)
		return l
	}
	if l.rec, err = decodeState(data); err != nil {
		l.err = fmt.Errorf("%s: %w", path, err)
	} else if l.rec.Name != e.Name() {
		l.err = fmt.Errorf("%s: holds machine %q: %w", path, l.rec.Name, ErrBadState)
	}
	return l
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("more than %d bytes", limit)
	}
	return data, nil
}
