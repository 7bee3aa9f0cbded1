package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/unitgen"
)

// Restart rate limit, systemd's defaults (StartLimitIntervalSec=10s,
// StartLimitBurst=5), and the pause before a restart (RestartSec=100ms).
const (
	startLimitInterval = 10 * time.Second
	startLimitBurst    = 5
	restartDelay       = 100 * time.Millisecond
)

// monitorPrefix starts the monitor's own lines in a machine's log.
const monitorPrefix = "berth-monitor: "

// defaultPath is the PATH systemd gives services.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// monitor runs one unit: it is a detached process of its own (see
// Supervisor.Start), so the unit survives the supervisor.
type monitor struct {
	dir   string
	spec  spec
	g     *group
	log   *log.Logger
	out   *os.File // the machine's log
	start *os.File // the start pipe; nil once answered
	st    Status
	main  *os.Process // the current main process
	// logFrom is the log's size when the current main process started.
	logFrom int64
	// stop is signalled by SIGTERM (graceful) and SIGUSR1 (force).
	stop   chan os.Signal
	notify *notifySocket
	starts []time.Time
}

// exitInfo is how a main process ended.
type exitInfo struct {
	code int
	sig  unix.Signal
	err  error
}

// runMonitor is the monitor's entry point: args is the unit's run
// directory, or empty for a spare, which reads it from its assignment
// pipe (fd 4). The start pipe is fd 3.
func runMonitor(args []string) int {
	unix.CloseOnExec(3)
	var dir string
	switch len(args) {
	case 1:
		dir = args[0]
	case 0:
		var ok bool
		var err error
		if dir, ok, err = awaitAssignment(); !ok {
			if err != nil {
				return 1
			}
			return 0 // not needed
		}
	default:
		return 2
	}
	m := &monitor{dir: dir, start: os.NewFile(3, "start")}
	m.stop = make(chan os.Signal, 2)
	signal.Notify(m.stop, unix.SIGTERM, unix.SIGUSR1)
	signal.Ignore(unix.SIGHUP, unix.SIGPIPE, unix.SIGINT)
	if err := m.load(); err != nil {
		m.answer("failed: " + err.Error())
		return 1
	}
	defer m.out.Close()
	m.run()
	return 0
}

func (m *monitor) load() error {
	b, err := os.ReadFile(filepath.Join(m.dir, specFile))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &m.spec); err != nil {
		return err
	}
	m.out, err = os.OpenFile(m.spec.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return err
	}
	m.log = log.New(m.out, monitorPrefix, log.LstdFlags)
	// The monitor's own output (a crash, above all) goes to the log too;
	// a spare's went nowhere until now.
	for _, fd := range []int{1, 2} {
		if err := unix.Dup3(int(m.out.Fd()), fd, 0); err != nil {
			return err
		}
	}
	_, start, err := procStat(os.Getpid())
	if err != nil {
		return err
	}
	u := m.spec.Unit
	m.st = Status{Unit: u.Name, Machine: u.Machine, MonitorPID: os.Getpid(), MonitorStart: start, Log: m.spec.Log}
	return nil
}

// answer tells the waiting Start how the start went, once.
func (m *monitor) answer(msg string) {
	if m.start == nil {
		return
	}
	_, _ = io.WriteString(m.start, msg+"\n")
	m.start.Close()
	m.start = nil
}

// set records a transition.
func (m *monitor) set(s State) {
	m.st.State, m.st.Since = s, time.Now()
	if err := writeJSON(m.dir, statusFile, m.st); err != nil {
		m.log.Printf("%v", err)
	}
}

// run is the unit's life: set up, start, wait, restart on a restart
// status, tear down.
func (m *monitor) run() {
	m.set(Activating)
	if err := m.setup(); err != nil {
		m.finish("resources", err)
		return
	}
	for {
		ex, stopped, err := m.runOnce()
		if err != nil {
			m.finish(resultOf(ex, err), err)
			return
		}
		u := m.spec.Unit
		m.st.ExitCode, m.st.ExitSignal = ex.code, int(ex.sig)
		if !stopped && u.RestartForceExitStatus.Has(ex.code, ex.sig) {
			if !m.mayRestart() {
				m.finish("start-limit-hit", errors.New("restarting too often"))
				return
			}
			m.st.Restarts++
			m.log.Printf("%s exited with %s: restarting", u.Name, describe(ex))
			m.set(Restarting)
			time.Sleep(restartDelay)
			// The group may have been removed meanwhile (by a cleanup
			// of an administrator or of the payload's own manager);
			// creating it again is a no-op when it is there.
			if err := m.g.create(u.Limits); err != nil {
				m.finish("resources", err)
				return
			}
			continue
		}
		if stopped || ex.sig == 0 && ex.code == 0 || u.SuccessExitStatus.Has(ex.code, ex.sig) {
			m.finish("success", nil)
		} else {
			m.finish(resultOf(ex, nil), fmt.Errorf("main process exited with %s", describe(ex)))
		}
		return
	}
}

func (m *monitor) setup() error {
	u := m.spec.Unit
	g, err := newGroup(m.spec.CgroupRoot, u.Slice, u.Name, u.Limits)
	if err != nil {
		return err
	}
	m.g = g
	m.st.Cgroup, m.st.CgroupDirs = g.Dirs[0], g.Dirs
	if err := g.create(u.Limits); err != nil {
		return err
	}
	if u.Type == "notify" {
		m.notify, err = listenNotify()
	}
	return err
}

// mayRestart applies the start rate limit.
func (m *monitor) mayRestart() bool {
	now := time.Now()
	recent := m.starts[:0]
	for _, t := range m.starts {
		if now.Sub(t) < startLimitInterval {
			recent = append(recent, t)
		}
	}
	m.starts = recent
	return len(m.starts) < startLimitBurst
}

// runOnce starts the main process and waits for it to end. stopped tells
// whether it ended because a stop was requested.
func (m *monitor) runOnce() (exitInfo, bool, error) {
	m.starts = append(m.starts, time.Now())
	if m.notify != nil {
		m.notify.arm()
	}
	if fi, err := m.out.Stat(); err == nil {
		m.logFrom = fi.Size()
	}
	cmd, err := m.spawn()
	if err != nil {
		return exitInfo{}, false, fmt.Errorf("start %s: %w", m.spec.Unit.ExecStart[0], err)
	}
	m.main = cmd.Process
	m.st.MainPID = cmd.Process.Pid
	_, m.st.MainStart, _ = procStat(cmd.Process.Pid)
	exited := make(chan exitInfo, 1)
	go func() { exited <- waitExit(cmd) }()
	if ex, stopped, done := m.awaitReady(exited); done {
		m.cleanup()
		return ex, stopped, nil
	}
	m.set(Active)
	m.answer("running")
	select {
	case ex := <-exited:
		m.cleanup()
		return ex, false, nil
	case sig := <-m.stop:
		return m.stopMain(exited, sig == unix.SIGUSR1), true, nil
	}
}

// awaitReady waits for READY=1 on a notify unit (or nothing for others).
// done is true when the main process ended or was stopped meanwhile.
func (m *monitor) awaitReady(exited chan exitInfo) (exitInfo, bool, bool) {
	u := m.spec.Unit
	if u.Type != "notify" {
		return exitInfo{}, false, false
	}
	var timeout <-chan time.Time
	if u.TimeoutStart > 0 {
		timeout = time.After(u.TimeoutStart)
	}
	for {
		select {
		case <-m.notify.ready:
			return exitInfo{}, false, false
		case ex := <-exited:
			return ex, false, true
		case sig := <-m.stop:
			return m.stopMain(exited, sig == unix.SIGUSR1), true, true
		case <-timeout:
			m.log.Printf("%s: no READY=1 within %v", u.Name, u.TimeoutStart)
			ex := m.stopMain(exited, false)
			ex.err = errTimeout
			return ex, false, true
		}
	}
}

var errTimeout = errors.New("timeout")

// stopMain stops the running main process with systemd's escalation:
// KillSignal (to the main process, or the whole group for
// KillMode=control-group), then after TimeoutStopSec SIGKILL of the whole
// cgroup. force skips straight to SIGKILL.
//
// Unlike systemd, it repeats KillSignal every resendInterval: a guest
// init drops signals from outside its PID namespace until it has set up
// its handlers, so a stop right after start-up would otherwise wait out
// the whole timeout. Inits treat a repeated shutdown request as the same
// request.
func (m *monitor) stopMain(exited chan exitInfo, force bool) exitInfo {
	u := m.spec.Unit
	m.set(Deactivating)
	var timeout <-chan time.Time
	switch {
	case force:
		timeout = time.After(0)
	case u.TimeoutStop > 0:
		timeout = time.After(u.TimeoutStop)
	}
	resend := time.NewTicker(resendInterval)
	defer resend.Stop()
	if !force {
		m.log.Printf("stopping %s with %s", u.Name, unitgen.SignalName(u.KillSignal))
		m.sendKillSignal()
	}
	for {
		select {
		case ex := <-exited:
			m.cleanup()
			return ex
		case <-resend.C:
			if !force {
				m.sendKillSignal()
			}
		case <-timeout:
			if force {
				m.log.Printf("stopping %s by force: killing its cgroup", u.Name)
			} else {
				m.log.Printf("%s did not stop within %v: killing its cgroup", u.Name, u.TimeoutStop)
			}
			_ = m.g.kill()
			ex := <-exited
			m.cleanup()
			return ex
		}
	}
}

// resendInterval is how often a stop repeats KillSignal.
const resendInterval = time.Second

func (m *monitor) sendKillSignal() {
	u := m.spec.Unit
	if u.KillMode == "control-group" {
		_ = m.g.signal(u.KillSignal)
		return
	}
	// os.Process signals through a pidfd, and not at all once reaped.
	_ = m.main.Signal(u.KillSignal)
}

// cleanup SIGKILLs what the main process left in the group (KillMode=mixed
// semantics) and waits until the group is empty.
func (m *monitor) cleanup() {
	m.st.MainPID, m.st.MainStart = 0, 0
	if m.g.empty() {
		return
	}
	_ = m.g.kill()
	for i := 0; i < 500 && !m.g.empty(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// finish tears the unit down and records its end.
func (m *monitor) finish(result string, err error) {
	if m.g != nil {
		if rerr := m.g.remove(); rerr != nil {
			m.log.Printf("%v", rerr)
		}
	}
	if m.notify != nil {
		m.notify.close()
	}
	m.st.Result, m.st.MainPID, m.st.MainStart = result, 0, 0
	if err != nil {
		m.log.Printf("%s: %v", m.spec.Unit.Name, err)
		m.set(Failed)
		m.answerFailure(err.Error())
		return
	}
	m.set(Inactive)
	m.answerFailure("exited during start-up")
}

// answerFailure tells a waiting Start that the start failed with msg and
// the main process's last words; it reads the log only if Start waits.
func (m *monitor) answerFailure(msg string) {
	if m.start != nil {
		m.answer("failed: " + msg + m.lastWords())
	}
}

// lastWords is ": " and the last line the main process wrote to the log
// (its error message, as a rule), or "".
func (m *monitor) lastWords() string {
	f, err := os.Open(m.spec.Log)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	if line := lastOutput(f, m.logFrom, fi.Size()); line != "" {
		return ": " + line
	}
	return ""
}

// spawn starts the main process through the exec entry point, which joins
// the cgroup before it execs the command.
func (m *monitor) spawn() (*exec.Cmd, error) {
	u := m.spec.Unit
	if m.g.hs[0].V2 {
		return m.spawnInto()
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{execCmd}
	for _, d := range m.g.Dirs {
		args = append(args, "--cgroup="+d)
	}
	cmd := m.command(self, append(append(args, "--"), u.ExecStart...)...)
	return cmd, startChecked(cmd)
}

// spawnInto starts the main process directly in the unit's unified group
// (clone3 with CLONE_INTO_CGROUP), without an entry point that joins the
// groups first. On a hybrid host the v1 groups (name=systemd, and the
// controllers the limits need) cannot be entered that way: the monitor
// steps into them itself for the moment of the clone, which the child
// inherits, and steps back out. The kernel reports a failed exec to Start.
func (m *monitor) spawnInto() (*exec.Cmd, error) {
	u := m.spec.Unit
	path, err := exec.LookPath(u.ExecStart[0])
	if err != nil {
		return nil, err
	}
	back, err := m.visitV1()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := join(back); err != nil {
			m.log.Printf("leave the unit's v1 cgroups: %v", err)
		}
	}()
	dir := m.g.Dirs[0]
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer unix.Close(fd)
	cmd := m.command(path, u.ExecStart[1:]...)
	cmd.Args[0] = u.ExecStart[0]
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	return cmd, cmd.Start()
}

// visitV1 moves the monitor into the unit's v1 groups and returns the
// groups it was in.
func (m *monitor) visitV1() ([]string, error) {
	if len(m.g.Dirs) == 1 {
		return nil, nil
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	var back []string
	for i, h := range m.g.hs[1:] {
		rel, ok := cgroupOf(string(own), h)
		if !ok {
			return nil, fmt.Errorf("own cgroup in %s: %w", h.Root, ErrNoCgroups)
		}
		back = append(back, filepath.Join(h.Root, rel))
		if err := join(m.g.Dirs[i+1 : i+2]); err != nil {
			_ = join(back)
			return nil, err
		}
	}
	return back, nil
}

// cgroupOf returns a process's path in v1 hierarchy h from the text of
// /proc/PID/cgroup.
func cgroupOf(procCgroup string, h hierarchy) (string, bool) {
	want := "name=systemd"
	if h.Controller != "" {
		want = h.Controller
	}
	for _, line := range strings.Split(procCgroup, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == want {
				return f[2], true
			}
		}
	}
	return "", false
}

// command returns the main process's command: explicit environment, the
// machine's log as output, a session of its own.
func (m *monitor) command(path string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Env = append([]string{"PATH=" + defaultPath}, m.spec.Unit.Environment...)
	if m.notify != nil {
		cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+m.notify.path)
	}
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = m.out, m.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

// startChecked starts cmd (the exec entry point) and waits until it has
// exec'd the real command: the entry point gets a close-on-exec pipe as
// fd 3 and writes to it only when it fails, so a command that cannot run
// fails the start instead of exiting later.
func startChecked(cmd *exec.Cmd) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd.ExtraFiles = []*os.File{w}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(r)
	if len(msg) == 0 {
		return nil
	}
	_ = cmd.Wait()
	return errors.New(strings.TrimSpace(string(msg)))
}

func waitExit(cmd *exec.Cmd) exitInfo {
	err := cmd.Wait()
	if cmd.ProcessState == nil {
		return exitInfo{code: 255, err: err}
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return exitInfo{code: 255, err: err}
	}
	if ws.Signaled() {
		return exitInfo{sig: unix.Signal(ws.Signal())}
	}
	return exitInfo{code: ws.ExitStatus()}
}

func describe(ex exitInfo) string {
	if ex.sig != 0 {
		return "signal " + unitgen.SignalName(ex.sig)
	}
	return fmt.Sprintf("status %d", ex.code)
}

func resultOf(ex exitInfo, err error) string {
	switch {
	case errors.Is(err, errTimeout) || errors.Is(ex.err, errTimeout):
		return "timeout"
	case ex.sig != 0:
		return "signal"
	case err != nil && ex == (exitInfo{}):
		return "resources"
	}
	return "exit-code"
}

// runExec is the exec entry point: "--cgroup=DIR"... "--" command.
func runExec(args []string) int {
	var dirs []string
	for len(args) > 0 && args[0] != "--" {
		d, ok := strings.CutPrefix(args[0], "--cgroup=")
		if !ok {
			return 127
		}
		dirs, args = append(dirs, d), args[1:]
	}
	if len(args) < 2 {
		return 127
	}
	report := os.NewFile(3, "exec-check")
	unix.CloseOnExec(3)
	fail := func(err error) int {
		fmt.Fprintf(report, "%v\n", err)
		return 127
	}
	argv := args[1:]
	if err := join(dirs); err != nil {
		return fail(err)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fail(err)
	}
	return fail(fmt.Errorf("exec %s: %w", path, unix.Exec(path, argv, os.Environ())))
}
