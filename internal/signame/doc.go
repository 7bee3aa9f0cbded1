// Package signame converts between Linux signal numbers and the names
// systemd, nspawn and machinectl accept: "SIGTERM", "TERM", "SIGRTMIN+3",
// "RTMAX-1" or a decimal number, case-sensitive, as systemd's
// signal_from_string reads them. Real-time signals count from SIGRTMIN as
// glibc shows it to programs (34; the kernel's 32 and 33 are reserved).
//
// The package is pure, needs no privileges, and is safe for the client.
package signame
