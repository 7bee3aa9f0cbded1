package spawn

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// ExitReboot is the exit status for a guest reboot under --keep-unit, so a
// unit with RestartForceExitStatus=133 starts it again.
const ExitReboot = 133

// outcome is what became of one run of the container.
type outcome struct {
	// code is the spawner's exit status.
	code int
	// reboot is set when the guest asked to be rebooted.
	reboot bool
	// msg describes the end for the log.
	msg string
}

// judge maps the container's PID 1 wait status like systemd-nspawn: an
// exit passes its status through; death by SIGINT is a poweroff (0), by
// SIGHUP a reboot; any other signal is a failure (1).
func judge(machine string, ws syscall.WaitStatus) outcome {
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return outcome{code: 0, msg: fmt.Sprintf("Container %s exited successfully.", machine)}
	case ws.Exited():
		return outcome{code: ws.ExitStatus(), msg: fmt.Sprintf("Container %s failed with error code %d.", machine, ws.ExitStatus())}
	case ws.Signaled() && ws.Signal() == unix.SIGINT:
		return outcome{code: 0, msg: fmt.Sprintf("Container %s has been shut down.", machine)}
	case ws.Signaled() && ws.Signal() == unix.SIGHUP:
		return outcome{code: 0, reboot: true, msg: fmt.Sprintf("Container %s is being rebooted.", machine)}
	case ws.Signaled():
		return outcome{code: 1, msg: fmt.Sprintf("Container %s terminated by signal %s.", machine, unix.SignalName(ws.Signal()))}
	}
	return outcome{code: 1, msg: fmt.Sprintf("Container %s ended with status %#x.", machine, uint32(ws))}
}
