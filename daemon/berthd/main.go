// Command berthd is berth's machine manager: it owns
// org.freedesktop.machine1 (or --bus-name) on the system bus
// (DBUS_SYSTEM_BUS_ADDRESS chooses another bus) and serves the machine1
// API and berth's extensions until SIGTERM. It needs root.
//
// Machines started through the bus run under the systemd backend when
// the host was booted with systemd, else under berthd's embedded
// supervisor, which also starts the enabled machines when berthd starts;
// $BERTH_BACKEND (embedded or systemd) overrides the choice.
//
// berthd's live heap is small (about a megabyte with a thousand
// machines), so it runs the garbage collector at GOGC=20 rather than Go's
// 100: each cycle is cheap, and the resident memory stays close to what
// is live. The GOGC variable overrides this. It collects once when its
// start-up is done (the bus name claimed, the enabled machines started),
// before it reports ready, so the bookkeeping the first collection sets
// up is paid at start-up, none of start-up's garbage stays resident, and
// the memory it idles with is its steady state.
package main

import (
	"errors"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/godbus/dbus/v5"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/machine"
	"github.com/berth-dev/berth/internal/machine1"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/supervisor"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// gcPercent is berthd's GOGC unless the environment sets one.
const gcPercent = 20

func main() {
	// berthd never writes a heap profile; sampling for one would cost it a
	// bucket table that grows with every new allocation site it samples.
	runtime.MemProfileRate = 0
	supervisor.Main()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	busName := pflag.String("bus-name", "org.freedesktop.machine1", "bus name to own")
	root := pflag.String("root", "/", "place every host path berthd uses below this directory (tests, demo)")
	stopTimeout := pflag.Duration("stop-timeout", 90*time.Second, "time from SIGTERM to SIGKILL when terminating a machine")
	network := pflag.String("network", "yes", "yes: configure ve-*/vz-* links in berthd's network namespace (subnets, DHCP, NAT, port forwards); no: leave them alone")
	pflag.Parse()
	logger := log.New(os.Stderr, "berthd: ", 0)
	networkOn, err := yesNo("--network", *network)
	if err == nil {
		err = run(logger, *busName, paths.Under(*root), *stopTimeout, networkOn)
	}
	if err != nil {
		logger.Print(err)
		os.Exit(1)
	}
}

func run(logger *log.Logger, busName string, p paths.Paths, stopTimeout time.Duration, network bool) error {
	// SIGTERM and SIGINT are caught from the start: one that comes while
	// berthd starts up (once the name is claimed, a service manager may
	// stop it at any time) ends it cleanly once start-up is done.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, unix.SIGTERM, unix.SIGINT)
	signals := machine1.Signals{Log: logger}
	follower := &unitFollower{next: newIdleTrimmer(&signals)}
	reg, err := machine.New(machine.Options{Paths: p, Log: logger, Observer: follower, StopTimeout: stopTimeout})
	if err != nil {
		return err
	}
	defer reg.Close()
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		logger.Printf("warning: %v: shell and login into machines will fail", err)
	}
	opts := machine1.Options{Machines: reg, Images: machine1.Library{Images: images.New(p)},
		PoolPath: p.Pool, Version: version, Log: logger, Nsenter: nsenter}
	if network {
		net, err := startNetwork(logger, p, reg)
		if err != nil {
			return err
		}
		defer net.stop()
		opts.Network = net.svc
	}
	lc, err := setupLifecycle(logger, p, reg)
	if err != nil {
		return err
	}
	defer lc.close()
	opts.Lifecycle = settledLifecycle{Manager: lc.m, f: follower}
	opts.Settings = &machine1.SettingsSource{Paths: p, UnitCommand: lc.m.Command}
	srv := machine1.New(opts)
	conn, err := machine1.ConnectSystemBus(srv)
	if err != nil {
		return err
	}
	defer conn.Close()
	signals.Attach(srv)
	if err := machine1.Claim(conn, busName); err != nil {
		return err
	}
	if err := lc.start(logger, follower); err != nil {
		return err
	}
	settle()
	_, _ = daemon.SdNotify(false, daemon.SdNotifyReady)
	logger.Printf("serving %s with %d machines", busName, reg.Len())
	return wait(conn, logger, stop)
}

// wait returns nil when a signal comes on stop, an error if the bus goes
// away.
func wait(conn *dbus.Conn, logger *log.Logger, stop <-chan os.Signal) error {
	select {
	case s := <-stop:
		logger.Printf("%v: shutting down; machines keep running", s)
		_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
		return nil
	case <-conn.Context().Done():
		return errors.New("lost the bus connection")
	}
}
