// Package gpt reads the GUID partition table of a raw disk image and finds
// the partition to run as a container's root, the way systemd-nspawn's
// image dissection does for the Discoverable Partitions Specification: the
// root partition type of the host's architecture, else the only Linux file
// system partition.
//
// The table is untrusted input: headers and entries are checked for their
// signature, checksums and bounds before use, and reading never follows a
// value beyond the image's size (FuzzRootPartition). Reading needs only
// read access to the image.
package gpt
