// Package capset names Linux capabilities and holds systemd-nspawn's default
// capability set for containers.
//
// Set is a plain bit mask (bit N = capability N). Parse reads the
// comma-separated lists of --capability and --drop-capability; the pure
// parts need no privileges. Apply (Linux only) narrows the calling process's
// bounding and inheritable sets to a Set before the payload is executed; it
// needs CAP_SETPCAP. RaiseAmbient raises the ambient set of
// --ambient-capability= after KeepCaps kept the permitted set across a
// change to an unprivileged user.
package capset
