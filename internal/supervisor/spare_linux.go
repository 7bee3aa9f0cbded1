package supervisor

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A spare is a monitor started ahead of need, so that a start does not
// wait for a program to be executed and its runtime to come up (some 20
// ms of CPU on a small machine, the largest part of a start outside the
// payload). It waits on its assignment pipe (fd 4) for the run directory
// of the unit it is to run; it exits if the pipe is closed without one,
// as when the supervisor's process ends. Its start pipe (fd 3) is the
// same as a fresh monitor's.
type spare struct {
	cmd *exec.Cmd
	// assign is the write end of the assignment pipe.
	assign *os.File
	// answer is the read end of the start pipe.
	answer *os.File
}

// startMonitor starts a monitor process: for dir, or a spare when dir is
// "". out is its output until it opens the unit's log itself.
func (s *Supervisor) startMonitor(dir string, out *os.File) (*spare, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	args := []string{monitorCmd}
	m := &spare{answer: r}
	files := []*os.File{w}
	if dir != "" {
		args = append(args, dir)
	} else {
		ar, aw, err := os.Pipe()
		if err != nil {
			r.Close()
			w.Close()
			return nil, err
		}
		defer ar.Close()
		m.assign, files = aw, append(files, ar)
	}
	m.cmd = exec.Command(s.exe, args...)
	m.cmd.Env = []string{"PATH=" + defaultPath}
	m.cmd.Dir = "/"
	m.cmd.Stdout, m.cmd.Stderr = out, out
	m.cmd.ExtraFiles = files
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = m.cmd.Start()
	w.Close()
	if err != nil {
		m.close()
		return nil, err
	}
	reap(m.cmd) // if we outlive it
	return m, nil
}

// close releases the supervisor's ends of the pipes; an unassigned spare
// exits.
func (m *spare) close() {
	m.answer.Close()
	if m.assign != nil {
		m.assign.Close()
	}
}

// give assigns the spare the unit whose run directory is dir.
func (m *spare) give(dir string) error {
	_, err := io.WriteString(m.assign, dir)
	if cerr := m.assign.Close(); err == nil {
		err = cerr
	}
	m.assign = nil
	return err
}

// takeSpare returns the spare monitor, or nil if there is none.
func (s *Supervisor) takeSpare() *spare {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.spare
	s.spare = nil
	return m
}

// spareDelay is how long after a start its replacement spare is
// started: a new process's start-up takes the CPU for some 20 ms, which
// the client that asked for the start needs more to take the answer and
// exit. It is short, so that starts in quick succession still find a
// spare.
const spareDelay = 50 * time.Millisecond

// replenish has a spare monitor started in the background, after delay,
// unless there is one, one is being started, or the supervisor is closed.
func (s *Supervisor) replenish(delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.spare != nil || s.refilling {
		return
	}
	s.refilling = true
	time.AfterFunc(delay, s.refill)
}

// refill starts a spare monitor unless the supervisor has one or is
// closed. A spare that cannot be started is simply not there: starts
// then start their monitor themselves.
func (s *Supervisor) refill() {
	s.mu.Lock()
	closed := s.closed
	s.refilling = !closed
	s.mu.Unlock()
	if closed {
		return
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	var m *spare
	if err == nil {
		m, err = s.startMonitor("", devNull)
		devNull.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refilling = false
	if err != nil {
		return
	}
	if s.closed || s.spare != nil {
		m.close()
		return
	}
	s.spare = m
}

// Close ends the supervisor's spare monitor. The units keep running; a
// closed supervisor still starts, stops and queries them, starting each
// monitor when it is needed.
func (s *Supervisor) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.spare != nil {
		s.spare.close()
		s.spare = nil
	}
}

// awaitAnswer reads the monitor's one-line answer on the start pipe:
// "running", or "failed: why".
func awaitAnswer(r io.Reader) error {
	line, _ := bufio.NewReader(r).ReadString('\n')
	a := strings.TrimSpace(line)
	if a == "running" {
		return nil
	}
	if a == "" {
		a = "monitor exited without an answer"
	}
	return fmt.Errorf("%w: %s", ErrStartFailed, strings.TrimPrefix(a, "failed: "))
}

// awaitAssignment is a spare monitor's wait for its unit: the run
// directory, read from the assignment pipe until the supervisor closes
// it. ok is false when it closed the pipe without one. Before it waits,
// it warms up.
func awaitAssignment() (dir string, ok bool, err error) {
	warmUp()
	f := os.NewFile(4, "assignment")
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return "", false, err
	}
	if len(b) == 0 {
		return "", false, nil
	}
	if strings.ContainsRune(string(b), 0) {
		return "", false, errors.New("bad assignment")
	}
	return string(b), true, nil
}

// warmUp does ahead of need the one-time work of a process's first steps
// that a spare would otherwise do after it is given a unit: encoding/json
// builds its tables for the spec and the status; package os probes once
// whether pidfds work, by starting a child process, before the first
// process it starts (the unit's main process); the local time zone,
// which the status's times use, is loaded; os/signal starts its loop.
func warmUp() {
	_, _ = json.Marshal(spec{})
	_, _ = json.Marshal(Status{})
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Release()
	}
	_ = time.Now().Local().String()
	signal.Ignore(unix.SIGHUP, unix.SIGPIPE, unix.SIGINT)
}
