// Package unitfile parses and writes systemd unit files: sections of
// ordered "Key=Value" assignments, with comments, line continuations and
// repeated keys handled the way systemd's own parser handles them.
//
// It is pure code: no file system access, no privileges. The parser accepts
// untrusted bytes (a template or drop-in found on disk) and is fuzzed.
package unitfile
