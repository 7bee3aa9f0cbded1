// Package seccomp builds the seccomp filter of a .nspawn
// SystemCallFilter= deny list ("~name ...", with systemd's @groups and
// "name:ERRNO"): each denied system call fails with its errno (EPERM by
// default), everything else is allowed; and of SuppressSync=yes, which
// makes the sync calls return at once. Only the native ABI is let
// through a filter; system calls of another ABI (x32, or i386 on x86-64)
// fail with ENOSYS, as berth knows no table for them.
//
// Rules (which checks every name) and Program are pure; the stage of
// package spawn (C) installs the program for the payload. On architectures without a system call table Rules
// returns ErrUnsupported.
package seccomp
