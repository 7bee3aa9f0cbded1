// Package capset names Linux capabilities and holds systemd-nspawn's default
// capability set for containers.
//
// Set is a plain bit mask (bit N = capability N). Parse reads the
// comma-separated lists of --capability and --drop-capability. Everything
// here is pure and needs no privileges: the stage of package spawn (C)
// applies a Set to the payload's bounding, inheritable and ambient sets.
package capset
