// Package imagebuild makes small container images for tests and the demo.
//
// Busybox builds a minimal image from Debian's static busybox in
// well under a second. Debian builds a bootable Debian image with
// debootstrap and keeps it in a cache keyed by its package list, so only the
// first build on a machine pays for the download. Both need root: the
// images contain files owned by root and device-free directories only.
package imagebuild
