package spawn

import (
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/berth-dev/berth/internal/nspawnopts"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// drainTimeout bounds how long output still buffered in the pty is copied
// after PID 1 ended.
const drainTimeout = 2 * time.Second

// forwarder copies between the container's console pty and the spawner's
// own terminal or pipes. It holds a descriptor of the pty's peer while the
// container runs, so the master never reads EIO when the guest closes
// every descriptor of its console (a booting init does); the peer is
// closed once PID 1 ended, and the output copy stops at the EIO that
// follows the last buffered byte.
type forwarder struct {
	out     chan struct{}
	peer    *os.File
	restore func()
	stopWin func()
}

// forwardConsole starts forwarding master according to mode: interactive
// copies both ways (with the spawner's terminal in raw mode and window
// size changes passed on), read-only copies output only, passive drains
// output. A nil master (pipe mode) forwards nothing.
// The console's escape: three ^] within escapeWindow kill the container.
const (
	escapeByte   = 0x1d
	escapeCount  = 3
	escapeWindow = time.Second
)

func forwardConsole(master *os.File, mode string, o Options, kill func()) *forwarder {
	f := &forwarder{out: make(chan struct{}), restore: func() {}, stopWin: func() {}}
	if master == nil {
		close(f.out)
		return f
	}
	var dst io.Writer = io.Discard
	if mode != nspawnopts.ConsolePassive && o.Stdout != nil {
		dst = o.Stdout
	}
	f.peer = openPeer(master)
	go func() {
		_, _ = io.Copy(dst, master)
		close(f.out)
	}()
	if mode == nspawnopts.ConsoleInteractive && o.Stdin != nil {
		f.interactive(master, o, kill)
	}
	return f
}

// interactive puts the spawner's terminal into raw mode, copies input to
// the pty and keeps the window size in step.
func (f *forwarder) interactive(master *os.File, o Options, kill func()) {
	in := int(o.Stdin.Fd())
	if state, err := term.MakeRaw(in); err == nil {
		f.restore = func() { _ = term.Restore(in, state) }
	}
	resize := func() {
		if ws, err := unix.IoctlGetWinsize(int(o.Stdout.Fd()), unix.TIOCGWINSZ); err == nil {
			_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
		}
	}
	resize()
	win := make(chan os.Signal, 1)
	signal.Notify(win, unix.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-win:
				resize()
			}
		}
	}()
	f.stopWin = func() { signal.Stop(win); close(done) }
	go copyInput(master, o.Stdin, kill)
}

// copyInput copies the terminal's input to the pty, calling kill when
// ^] is typed three times within a second.
func copyInput(master io.Writer, in io.Reader, kill func()) {
	buf := make([]byte, 4096)
	var presses []time.Time
	for {
		n, err := in.Read(buf)
		for _, b := range buf[:n] {
			if b != escapeByte {
				presses = presses[:0]
				continue
			}
			presses = append(presses, time.Now())
			if len(presses) >= escapeCount && time.Since(presses[len(presses)-escapeCount]) <= escapeWindow {
				kill()
				return
			}
		}
		if n > 0 {
			if _, werr := master.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// finish waits (bounded) for the output to drain and restores the
// terminal.
func (f *forwarder) finish() {
	if f.peer != nil {
		f.peer.Close()
	}
	select {
	case <-f.out:
	case <-time.After(drainTimeout):
	}
	f.stopWin()
	f.restore()
}

// openPeer opens the pty peer of master (nil when that fails).
func openPeer(master *os.File) *os.File {
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, master.Fd(), unix.TIOCGPTPEER,
		uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return nil
	}
	return os.NewFile(fd, "console-peer")
}
