// Package nspawnopts parses berth-nspawn's command line, which follows
// systemd-nspawn's options and meanings, into a validated Config.
//
// Parsing is pure: it touches no file and makes no system call, so every
// option error is reported (as a one-line error, exit code 1) before
// anything is created. The few facts Parse needs about its environment
// (whether stdin and stdout are terminals, the host environment for -E NAME)
// come in through Env.
package nspawnopts
