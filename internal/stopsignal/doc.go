// Package stopsignal chooses the signal that asks a machine's init to
// power off (and the one that asks it to reboot), from the init the
// machine's image boots.
//
// systemd-nspawn and machinectl assume systemd in the guest: poweroff sends
// SIGRTMIN+4 and terminate forwards SIGRTMIN+3, which busybox init and
// most other inits ignore, so stopping such a guest waits out the whole
// stop timeout (90 s). berth detects the init and sends the signal it
// honours:
//
//	init          power off     reboot    notes
//	systemd       SIGRTMIN+4    SIGINT    SIGRTMIN+3 would halt
//	busybox       SIGUSR2       SIGTERM   SIGUSR1 halts (init/init.c halt_reboot_pwoff)
//	sysvinit      SIGPWR        SIGINT    see below
//	openrc-init   SIGTERM       SIGINT    SIGTERM and SIGPWR halt; in a container halt ends it like power off
//	runit         SIGCONT       SIGINT    see below
//	tini          SIGTERM       -         forwarded to the child; tini exits with it
//	dumb-init     SIGTERM       -         forwarded to the child; dumb-init exits with it
//	unknown       SIGTERM       SIGINT    the conventional request to terminate
//
// sysvinit has no power-off signal: SIGINT runs the inittab "ctrlaltdel"
// action (Debian's: shutdown -r, a reboot), SIGTERM is ignored. berth
// sends SIGPWR, which runs the "powerwait"/"powerfail" actions; LXC does
// the same, and its images map them to "shutdown -h now". A guest whose
// inittab has no such entry does not react, and berth escalates after the
// stop timeout (the kill signal to the spawner, then SIGKILL of the whole
// cgroup), so the machine stops in every case.
//
// runit stops on SIGCONT only when /etc/runit/stopit is executable (that
// is what runit-init 0 arranges before signalling); SIGINT runs
// /etc/runit/ctrlaltdel, which on Void Linux requests a reboot. berth
// sends SIGCONT and relies on escalation when stopit is not set up.
//
// nspawn starts /usr/lib/systemd/systemd or /lib/systemd/systemd in
// preference to /sbin/init when booting, so an image with systemd
// installed counts as systemd whatever /sbin/init is. Every choice can be
// overridden per machine; Detect only reads the image (no privileges
// beyond read access to it) and never follows a link out of it.
package stopsignal
