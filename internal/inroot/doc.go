// Package inroot reads files inside an untrusted root directory (a
// container image or a running machine's /proc/PID/root) without ever
// leaving it: lookups use openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS),
// so absolute and ".." symlinks resolve inside the root; only regular files
// are read, opened non-blocking (a FIFO cannot hang the reader), and reads
// are size-capped. It needs whatever access the caller has to the root.
package inroot
