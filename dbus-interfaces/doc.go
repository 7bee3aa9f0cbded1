// Package dbusinterfaces holds berthd's bus API contract: the introspection
// XML of org.freedesktop.machine1.{Manager,Machine,Image} (systemd v252,
// byte-compatible) and of berth's extensions dev.berth.Manager1 and
// dev.berth.Machine1, one file per interface, embedded so that berthd
// serves exactly these files and tests can compare them with what runs.
package dbusinterfaces
