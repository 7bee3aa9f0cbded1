// Package buslabel converts arbitrary strings to and from D-Bus object path
// labels with systemd's bus_label_escape rules, so object paths of machines
// and images are the same as systemd-machined's.
//
// Escape maps every byte outside [A-Za-z] (and digits in the first
// position) to "_" plus two lowercase hex digits, and the empty string to
// "_". It is injective. Unescape reverses it and keeps an invalid "_"
// sequence literally, as sd-bus does. Neither needs privileges.
package buslabel
