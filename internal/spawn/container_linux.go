package spawn

import (
	"cmp"
	"fmt"
	"os"
	"strconv"

	"github.com/berth-dev/berth/internal/containercgroup"
	"github.com/berth-dev/berth/internal/containernet"
	"github.com/berth-dev/berth/internal/nspawnopts"
	"golang.org/x/sys/unix"
)

// container is one running instance: the stage (then PID 1) and what the
// spawner holds for it.
type container struct {
	sc     *stageConfig
	o      Options
	st     *stage
	cg     *containercgroup.Group
	reg    bool
	master *os.File
	notify *os.File
	net    *containernet.Network
}

// runOnce runs the container once, from the stage's start to PID 1's end.
func runOnce(sc *stageConfig, o Options, ns *mountNS) (outcome, error) {
	cg, err := earlyCgroup(sc, o)
	if err != nil {
		return outcome{}, err
	}
	st, detach, err := ns.startStage(sc, o, cg)
	if err != nil {
		if cg != nil {
			_ = cg.Remove()
		}
		return outcome{}, err
	}
	ct := &container{sc: sc, o: o, st: st, cg: cg}
	defer ct.release()
	// A stage cloned into its cgroup gets the configuration first and
	// finishes the container's tree while the spawner sets up the signal
	// forwarding and the network and registers the machine; otherwise the
	// registration may move it into a scope, which has to happen before
	// the stage makes its cgroup namespace.
	early := cg != nil
	if early {
		if err := ct.configure(); err != nil {
			return outcome{}, ct.abort(err)
		}
	}
	// From here on SIGTERM/SIGINT reach the container, not the spawner.
	stop := ct.forwardSignals()
	defer stop()
	if err := ct.start(early); err != nil {
		return outcome{}, ct.abort(err)
	}
	// The payload runs: the manager hears so before the spawner takes
	// the tree out of its own namespace, which may wait for the mount
	// table's lock (a millisecond, at times ten).
	ct.announce()
	// The stage has the tree to itself by now (see joinsRoot).
	if err := detach(); err != nil {
		ct.st.kill()
		return outcome{}, err
	}
	return ct.supervise(), nil
}

// abort ends a stage that failed to start and returns the error to
// report: the stage process's own, if it failed before it executed the
// stage binary (see stage.executed), else err.
func (ct *container) abort(err error) error {
	if e := ct.st.executed(); e != nil {
		err = e
	}
	ct.st.kill()
	return err
}

// start places and registers the stage, hands it the configuration unless
// it has it already (early), lets it start the payload (if it waits for
// that) and waits until the payload was executed.
func (ct *container) start(early bool) error {
	if err := ct.placeCgroup(); err != nil {
		return err
	}
	if !early {
		if err := ct.configure(); err != nil {
			return err
		}
	}
	// A failed send means the stage is gone: its own error comes first.
	var goErr error
	if ct.sc.awaitGo {
		goErr = sendMsg(ct.st.sync, []byte{msgGo}, nil)
	}
	if err := ct.awaitExec(); err != nil {
		return err
	}
	if goErr != nil {
		return fmt.Errorf("start container: %w", goErr)
	}
	return nil
}

// configure gives the stage's cgroup to the container's root and sends
// the stage its configuration. The stage is in its cgroup by then.
func (ct *container) configure() error {
	if ct.sc.Cgroup {
		if err := ct.sc.users.ownCgroup(ct.o.Paths.Cgroup, ct.st.pid); err != nil {
			return err
		}
	}
	fds := ct.st.takeRoot()
	defer closeAll(fds)
	if err := sendMsg(ct.st.sync, ct.sc.plan, fds); err != nil {
		return fmt.Errorf("configure container: %w", err)
	}
	return nil
}

// placeCgroup registers the machine and puts the stage into its cgroup.
func (ct *container) placeCgroup() error {
	c, pid := &ct.sc.Config, ct.st.pid
	var before string
	if ct.cg == nil {
		before, _ = containercgroup.PathOf(pid)
	}
	if err := ct.setupNetwork(); err != nil {
		return err
	}
	if ct.o.Registrar != nil {
		m := Machine{Name: c.Machine, UUID: uuidBytes(ct.sc.UUID), Leader: pid, Directory: c.Directory,
			KeepUnit: c.KeepUnit, KillSignal: c.KillSignal, NetIfIndices: ct.ifIndices()}
		if err := ct.o.Registrar.Register(m); err != nil {
			return err
		}
		ct.reg = true
	}
	if !ct.sc.Cgroup || ct.cg != nil { // no cgroup, or cloned into it
		return nil
	}
	if after, _ := containercgroup.PathOf(pid); after != before {
		return nil
	}
	cg, err := containercgroup.Create(containercgroup.Options{Root: ct.o.Paths.Cgroup, Machine: c.Machine, KeepUnit: c.KeepUnit})
	if err != nil {
		return err
	}
	ct.cg = cg
	return containercgroup.Add(cg.Path, pid)
}

// awaitExec reads the stage's messages until its end of the socket closes
// on execve (or a stub init closes it).
func (ct *container) awaitExec() error {
	for {
		data, fds, err := recvMsg(ct.st.sync)
		if err != nil {
			if e := ct.st.executed(); e != nil {
				return e
			}
			return fmt.Errorf("container setup: %w", err)
		}
		if len(data) == 0 {
			return ct.st.executed()
		}
		r := parseReply(data, fds)
		if r.err != nil {
			return r.err
		}
		ct.master, ct.notify = cmp.Or(r.console, ct.master), cmp.Or(r.notif, ct.notify)
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// announce sends the manager READY=1 now, or once the payload sends it
// with --notify-ready, and drains the payload's notify socket.
func (ct *container) announce() {
	leader := "X_NSPAWN_LEADER_PID=" + strconv.Itoa(ct.st.pid)
	ready := func() { notifyManager(ct.o.Getenv, "READY=1\nSTATUS=Container running.\n"+leader) }
	if ct.sc.Config.NotifyReady && ct.notify != nil {
		go watchNotify(ct.notify, ready)
		return
	}
	ready()
	if ct.notify != nil {
		go watchNotify(ct.notify, func() {})
	}
}

// supervise forwards the console and signals until PID 1 ends.
func (ct *container) supervise() outcome {
	c := &ct.sc.Config
	if c.Console == nspawnopts.ConsoleInteractive {
		logf(ct.o, c.Quiet, "Press ^] three times within 1s to kill container.\n")
	}
	fwd := forwardConsole(ct.master, c.Console, ct.o, func() {
		ct.st.signal(unix.SIGKILL)
	})
	ws := ct.st.wait()
	fwd.finish()
	return judge(c.Machine, ws)
}

// forwardSignals sends SIGTERM/SIGINT on to PID 1 as the kill signal, or
// kills the container when there is none. The returned func stops it.
func (ct *container) forwardSignals() func() {
	sig := unix.Signal(ct.sc.Config.KillSignal)
	if sig == 0 {
		sig = unix.SIGKILL
	}
	return forwardSignals(ct.st.pidfd, sig)
}

// release undoes everything the spawner made for this run.
func (ct *container) release() {
	ct.st.close()
	for _, f := range []*os.File{ct.master, ct.notify} {
		if f != nil {
			f.Close()
		}
	}
	if ct.reg {
		_ = ct.o.Registrar.Unregister(ct.sc.Config.Machine)
	}
	if ct.net != nil {
		ct.net.Close()
	}
	if ct.cg != nil {
		if err := ct.cg.Remove(); err != nil {
			logf(ct.o, false, "berth-nspawn: %v\n", err)
		}
	}
}
