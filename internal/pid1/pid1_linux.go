package pid1

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Run starts argv[0] (a path) with argv, env and attr as the payload, calls
// started (if not nil) once it runs, then serves as init until the payload
// exits, returning the status to exit with.
func Run(argv, env []string, attr *syscall.SysProcAttr, files []uintptr, started func()) (int, error) {
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{Env: env, Files: files, Sys: attr})
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", argv[0], err)
	}
	if started != nil {
		started()
	}
	for sig := range sigs {
		s, _ := sig.(syscall.Signal)
		switch s {
		case unix.SIGCHLD:
			if status, done := reap(pid); done {
				return status, nil
			}
		case unix.SIGURG, unix.SIGPIPE:
			// SIGURG is the Go runtime's own preemption signal.
		default:
			_ = unix.Kill(pid, s)
		}
	}
	return ExitException, nil
}

// reap collects every exited child; it reports the payload's exit status
// once the payload is among them.
func reap(payload int) (int, bool) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return 0, false
		}
		if pid != payload {
			continue
		}
		if ws.Exited() {
			return ws.ExitStatus(), true
		}
		return ExitException, true
	}
}
