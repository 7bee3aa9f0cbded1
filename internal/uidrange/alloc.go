package uidrange

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/paths"
)

// Allocator hands out UID ranges to machines. Its methods may be called
// concurrently, from any number of processes sharing the same paths.
type Allocator struct {
	lockDir   string
	nspawnDir string
	stateDir  string
	passwd    string
	group     string
	win       window
}

// Option configures an Allocator.
type Option func(*Allocator)

// WithWindow narrows the window of bases the allocator picks from to
// [min, max]; both must be 64Ki-aligned. Tests use it to exhaust the window.
func WithWindow(min, max uint32) Option {
	return func(a *Allocator) { a.win = window{min, max} }
}

// WithNspawnLockDir makes the allocator honour (and take) systemd-nspawn's
// range locks in dir instead of run/systemd/nspawn-uid below the paths
// root.
func WithNspawnLockDir(dir string) Option {
	return func(a *Allocator) { a.nspawnDir = dir }
}

// WithAccountFiles makes the allocator read other passwd and group files
// than those below the paths root.
func WithAccountFiles(passwd, group string) Option {
	return func(a *Allocator) { a.passwd, a.group = passwd, group }
}

// New returns an allocator keeping its locks below p.Run and its records
// below p.State, and reading p.Root's etc/passwd and etc/group. It also
// takes systemd-nspawn's lock for every base it hands out (an open file
// description lock on run/systemd/nspawn-uid/BASE below p.Root, nspawn's
// protocol), so berth and systemd-nspawn on one host never share a range.
func New(p paths.Paths, opts ...Option) *Allocator {
	a := &Allocator{
		lockDir:   filepath.Join(p.Run, "uidrange"),
		nspawnDir: filepath.Join(p.Root, "run/systemd/nspawn-uid"),
		stateDir:  filepath.Join(p.State, "uidrange"),
		passwd:    filepath.Join(p.Root, "etc/passwd"),
		group:     filepath.Join(p.Root, "etc/group"),
		win:       window{MinBase, MaxBase},
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Lease is a range held by a machine. The range stays reserved until
// Release is called or the process holding the lease (and every process the
// lock file was passed to) exits.
type Lease struct {
	// Range is the leased range.
	Range Range
	alloc *Allocator
	locks []*os.File
}

// Files returns the open lock files that keep the range reserved, for
// passing to a child process that outlives the caller.
func (l *Lease) Files() []*os.File { return l.locks }

// Lookup returns the range recorded for machine (the last range it held),
// or ErrNotFound.
func (a *Allocator) Lookup(machine string) (Range, error) {
	if err := names.ValidMachine(machine); err != nil {
		return Range{}, fmt.Errorf("lookup uid range: %w", err)
	}
	b, err := os.ReadFile(a.recordPath(machine))
	if errors.Is(err, fs.ErrNotExist) {
		return Range{}, fmt.Errorf("lookup uid range of %s: %w", machine, ErrNotFound)
	}
	if err != nil {
		return Range{}, fmt.Errorf("lookup uid range: %w", err)
	}
	r, err := ParseRecord(b)
	if err != nil {
		return Range{}, fmt.Errorf("lookup uid range of %s: %w", machine, err)
	}
	return r, nil
}

// Forget removes the record of machine, for when the machine's image is
// removed. A missing record is not an error.
func (a *Allocator) Forget(machine string) error {
	if err := names.ValidMachine(machine); err != nil {
		return fmt.Errorf("forget uid range: %w", err)
	}
	err := os.Remove(a.recordPath(machine))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("forget uid range: %w", err)
	}
	return nil
}

func (a *Allocator) recordPath(machine string) string {
	return filepath.Join(a.stateDir, machine)
}

func (a *Allocator) lockPath(base uint32) string {
	return filepath.Join(a.lockDir, strconv.FormatUint(uint64(base), 10))
}

func (a *Allocator) nspawnPath(base uint32) string {
	return filepath.Join(a.nspawnDir, strconv.FormatUint(uint64(base), 10))
}

// accounts returns the sorted IDs of the passwd and group files; a missing
// file counts as empty.
func (a *Allocator) accounts() ([]uint32, error) {
	var all []uint32
	for _, name := range []string{a.passwd, a.group} {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		ids, err := ParseAccounts(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		all = append(all, ids...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// recordedBases returns the bases recorded for machines other than machine.
func (a *Allocator) recordedBases(machine string) map[uint32]bool {
	out := map[uint32]bool{}
	ents, err := os.ReadDir(a.stateDir)
	if err != nil {
		return out
	}
	for _, e := range ents {
		if e.Name() == machine || names.ValidMachine(e.Name()) != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(a.stateDir, e.Name())); err == nil {
			if r, err := ParseRecord(b); err == nil {
				out[r.Base] = true
			}
		}
	}
	return out
}

// writeRecord stores r as machine's record: temp file, fsync, rename.
func (a *Allocator) writeRecord(machine string, r Range) error {
	tmp, err := os.CreateTemp(a.stateDir, "."+machine+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(FormatRecord(r)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), a.recordPath(machine))
}

func (a *Allocator) mkdirs() error {
	for _, d := range []string{a.lockDir, a.stateDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	return os.MkdirAll(a.nspawnDir, 0o755)
}
