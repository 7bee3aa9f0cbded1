package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/kernel"
)

// Watch calls changed with a unit's status each time its monitor writes
// a new one (at every transition), from one goroutine, until ctx ends.
// Units started after Watch are watched too.
func (s *Supervisor) Watch(ctx context.Context, changed func(Status)) error {
	fd, err := kernel.RetryInt("inotify_init1", func() (int, error) {
		return unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	})
	if err != nil {
		return fmt.Errorf("watch units: %w", err)
	}
	w := &watcher{s: s, f: os.NewFile(uintptr(fd), "inotify"), fd: fd, units: map[int32]string{}, changed: changed}
	if w.root, err = w.add(s.runDir(), unix.IN_CREATE|unix.IN_ONLYDIR); err != nil {
		w.f.Close()
		return fmt.Errorf("watch units: %w", err)
	}
	ents, err := os.ReadDir(s.runDir())
	if err != nil {
		w.f.Close()
		return fmt.Errorf("watch units: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() {
			w.addUnit(e.Name(), false)
		}
	}
	context.AfterFunc(ctx, func() { w.f.Close() })
	go w.loop()
	return nil
}

// watcher is one Watch's inotify instance.
type watcher struct {
	s       *Supervisor
	f       *os.File
	fd      int
	root    int32
	units   map[int32]string // watch descriptor → unit; used by loop only
	changed func(Status)
}

func (w *watcher) add(dir string, mask uint32) (int32, error) {
	wd, err := kernel.RetryInt("inotify_add_watch", func() (int, error) { return unix.InotifyAddWatch(w.fd, dir, mask) })
	return int32(wd), err
}

// addUnit watches a unit's directory for new status files; report also
// reports its current status (it may have been written before the watch).
func (w *watcher) addUnit(unit string, report bool) {
	wd, err := w.add(filepath.Join(w.s.runDir(), unit), unix.IN_MOVED_TO)
	if err != nil {
		return // gone again, or not a unit
	}
	w.units[wd] = unit
	if report {
		w.report(unit)
	}
}

// report reports a unit's status, once its monitor has written one.
func (w *watcher) report(unit string) {
	if st, err := w.s.State(unit); err == nil && !st.Since.IsZero() {
		w.changed(st)
	}
}

// readSize is what loop reads at a time: room for 15 events even with
// the longest names, and for hundreds with unit names; more stay queued
// in the kernel for the next read. It is small because it lives on
// loop's stack for the life of berthd (64 KiB would keep a 128 KiB stack
// half resident).
const readSize = 4 << 10

// loop reads events until the inotify file is closed.
func (w *watcher) loop() {
	buf := make([]byte, readSize)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		for _, ev := range parseEvents(buf[:n]) {
			switch {
			case ev.wd == w.root && ev.mask&unix.IN_ISDIR != 0:
				w.addUnit(ev.name, true)
			case ev.name == statusFile:
				if unit, ok := w.units[ev.wd]; ok {
					w.report(unit)
				}
			case ev.mask&unix.IN_IGNORED != 0:
				delete(w.units, ev.wd)
			}
		}
	}
}

// event is one inotify event.
type event struct {
	wd   int32
	mask uint32
	name string
}

// parseEvents splits what one read of an inotify file returned.
func parseEvents(b []byte) []event {
	var out []event
	const size = unix.SizeofInotifyEvent
	for len(b) >= size {
		raw := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := size + int(raw.Len)
		if end > len(b) {
			break
		}
		name, _, _ := bytes.Cut(b[size:end], []byte{0})
		out = append(out, event{wd: raw.Wd, mask: raw.Mask, name: string(name)})
		b = b[end:]
	}
	return out
}
