package uidrange

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
	"github.com/berth-dev/berth/internal/names"
)

// Acquire picks and locks a free range for machine: the range it held last
// if that is free, else the first free candidate. The pick is serialized
// across processes; the returned lease keeps the range reserved.
func (a *Allocator) Acquire(machine string) (*Lease, error) {
	if err := names.ValidMachine(machine); err != nil {
		return nil, fmt.Errorf("acquire uid range: %w", err)
	}
	unlock, err := a.lockPick()
	if err != nil {
		return nil, fmt.Errorf("acquire uid range: %w", err)
	}
	defer unlock()
	ids, err := a.accounts()
	if err != nil {
		return nil, fmt.Errorf("acquire uid range: %w", err)
	}
	rec, recErr := a.Lookup(machine)
	hasRec := recErr == nil && rec.Size == Size && a.win.holds(rec.Base)
	others := func() map[uint32]bool { return a.recordedBases(machine) }
	for base := range order(a.win.candidates(machine), rec.Base, hasRec, others) {
		if collides(ids, base) {
			continue
		}
		locks, err := a.lockBase(base)
		if errors.Is(err, unix.EWOULDBLOCK) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("acquire uid range: %w", err)
		}
		return a.record(machine, Range{base, Size}, locks)
	}
	return nil, fmt.Errorf("acquire uid range for %s in [%#x, %#x]: %w", machine, a.win.min, a.win.max, ErrExhausted)
}

// Reserve locks the explicit range r (from --private-users=N:M) for machine.
// Ranges are locked in 64Ki blocks, so two explicit ranges that share a
// block conflict even when their IDs do not overlap.
func (a *Allocator) Reserve(machine string, r Range) (*Lease, error) {
	if err := names.ValidMachine(machine); err != nil {
		return nil, fmt.Errorf("reserve uid range: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("reserve uid range: %w", err)
	}
	unlock, err := a.lockPick()
	if err != nil {
		return nil, fmt.Errorf("reserve uid range: %w", err)
	}
	defer unlock()
	var locks []*os.File
	for b := uint64(r.Base) &^ (Size - 1); b < r.end(); b += Size {
		fs, err := a.lockBase(uint32(b))
		if err != nil {
			a.unlinkLocked(locks)
			if errors.Is(err, unix.EWOULDBLOCK) {
				err = fmt.Errorf("%s overlaps a range in use: %w", r, ErrBusy)
			}
			return nil, fmt.Errorf("reserve uid range: %w", err)
		}
		locks = append(locks, fs...)
	}
	return a.record(machine, r, locks)
}

// record writes machine's record, unless it already holds r (a restart
// costs no write and no fsync), and returns the lease; on failure the
// locks are released.
func (a *Allocator) record(machine string, r Range, locks []*os.File) (*Lease, error) {
	if old, err := a.Lookup(machine); err == nil && old == r {
		return &Lease{Range: r, alloc: a, locks: locks}, nil
	}
	if err := a.writeRecord(machine, r); err != nil {
		a.unlinkLocked(locks)
		return nil, fmt.Errorf("record uid range: %w", err)
	}
	return &Lease{Range: r, alloc: a, locks: locks}, nil
}

// Release gives the range back: its lock files are removed (under the pick
// lock, so no other process can be waiting on them) and closed. The
// machine's record stays, so its next start gets the same range.
func (l *Lease) Release() error {
	unlock, err := l.alloc.lockPick()
	if err != nil {
		closeAll(l.locks)
		return fmt.Errorf("release uid range: %w", err)
	}
	defer unlock()
	l.alloc.unlinkLocked(l.locks)
	l.locks = nil
	return nil
}

// unlinkLocked removes and closes lock files; the pick lock must be held.
func (a *Allocator) unlinkLocked(locks []*os.File) {
	for _, f := range locks {
		_ = os.Remove(f.Name())
	}
	closeAll(locks)
}

// lockPick takes the allocator-wide lock and returns its release function.
func (a *Allocator) lockPick() (func(), error) {
	if err := a.mkdirs(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(a.lockDir, ".pick"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := kernel.Retry("flock", func() error { return unix.Flock(int(f.Fd()), unix.LOCK_EX) }); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// lockBase takes berth's flock and systemd-nspawn's open file description
// lock for base; EWOULDBLOCK if either is held. The pick lock must be held.
func (a *Allocator) lockBase(base uint32) ([]*os.File, error) {
	f, err := tryLock(a.lockPath(base))
	if err != nil {
		return nil, err
	}
	n, err := tryOFDLock(a.nspawnPath(base))
	if err != nil {
		a.unlinkLocked([]*os.File{f})
		return nil, err
	}
	return []*os.File{f, n}, nil
}

// tryOFDLock takes a write OFD lock on path the way systemd's
// make_lock_file does: open, lock without waiting, and start over if the
// holder unlinked the file in between (systemd unlinks before unlocking).
func tryOFDLock(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, err
		}
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
		err = kernel.Retry("fcntl", func() error { return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk) })
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			f.Close()
			return nil, unix.EWOULDBLOCK
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		var st unix.Stat_t
		err = kernel.Retry("fstat", func() error { return unix.Fstat(int(f.Fd()), &st) })
		if err != nil {
			f.Close()
			return nil, err
		}
		if st.Nlink > 0 {
			return f, nil
		}
		f.Close()
	}
}

// tryLock opens path and takes an exclusive non-blocking flock on it. The
// pick lock must be held: lock files are only removed under it, so the file
// opened is the one other holders lock.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := kernel.Retry("flock", func() error { return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) }); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// InUse returns the range recorded for machine and whether a running
// machine holds it now (its lock is taken), for the daemon's GetUIDShift.
// ErrNotFound if the machine never had a range.
func (a *Allocator) InUse(machine string) (Range, bool, error) {
	r, err := a.Lookup(machine)
	if err != nil {
		return Range{}, false, err
	}
	unlock, err := a.lockPick()
	if err != nil {
		return Range{}, false, fmt.Errorf("uid range in use: %w", err)
	}
	defer unlock()
	f, err := os.OpenFile(a.lockPath(uint32(uint64(r.Base)&^(Size-1))), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return r, false, nil
	}
	if err != nil {
		return Range{}, false, fmt.Errorf("uid range in use: %w", err)
	}
	defer f.Close()
	err = kernel.Retry("flock", func() error { return unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) })
	if errors.Is(err, unix.EWOULDBLOCK) {
		return r, true, nil
	}
	return r, false, err
}
