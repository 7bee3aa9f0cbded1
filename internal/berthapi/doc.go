// Package berthapi holds the reply row types of berth's extension
// interface dev.berth.Manager1 (dbus-interfaces/dev.berth.Manager1.xml):
// the D-Bus structs berthd sends and berthctl and the tests decode, so the
// two sides share one definition of each signature.
package berthapi
