// Package paths holds every host path berth reads or writes, in one value.
//
// Production code takes the paths from Default. Tests and the demo take them
// from Under, which places the same layout below a private root, so nothing
// on the host outside that root is touched. Code never joins a host path
// itself: it asks a Paths value.
package paths
