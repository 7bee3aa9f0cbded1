// Package imagefiles reads identity files (hostname, machine-id,
// machine-info, os-release) from an image's root directory without ever
// leaving it.
//
// An image is untrusted content: its files may be symlinks to host files,
// FIFOs that block forever, or huge. Every read goes through one directory
// descriptor of the image root with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS), so ".." and absolute symlinks in the path stay
// inside the image; the final component is opened O_NOFOLLOW | O_NONBLOCK
// and must be a regular file; at most a fixed number of bytes is read
// (a larger file is an error). Nothing from the image is executed, loaded
// or resolved through NSS.
//
// Reading needs permission to read the image (root for images in the
// pool). The parsers (ParseEnv, ParseHostname, ParseMachineID) are pure
// and fuzzed.
package imagefiles
