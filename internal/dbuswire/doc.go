// Package dbuswire is the D-Bus wire format as berth's own bus code
// speaks it: marshalling of the basic types, arrays, variants and the
// message header (Encoder, AppendHeader), strict parsing of messages
// from the bus (ReadMessage, Parse, Decoder, whose Skip passes over a
// value of any type without building it), the client's side of the
// SASL EXTERNAL handshake (AppendAuth, ReadAuthOK) and unix: bus
// addresses (UnixSocket).
//
// It is pure Go without kernel or daemon code and without the net
// package, so the client, berthd and the spawner all use it: berthd for
// its fast path of replies and registration calls, berth-nspawn to
// register a machine without a general D-Bus library, berthctl for the
// quick start. Nothing here needs privileges.
//
// Encoding always writes little-endian; parsing takes both byte orders.
// Parsing is strict (lengths, padding, UTF-8, header field types and the
// specification's limits), since its input comes from any peer on the
// bus: what it refuses, callers hand to a general library or drop.
package dbuswire
