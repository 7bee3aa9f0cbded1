package machine

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxStateSize bounds a state file; a real one is a few hundred bytes.
const maxStateSize = 64 << 10

// stateHeader opens every state file, as machined's do.
const stateHeader = "# This is private data. Do not parse.\n"

// ErrBadState marks a state file that cannot be loaded.
var ErrBadState = errors.New("bad state file")

// record is what a state file holds: a machine and its leader's identity.
type record struct {
	Machine
	LeaderID Identity
}

// encodeState renders r as a state file: KEY=VALUE lines, strings quoted.
func encodeState(r record) []byte { return appendState(nil, r) }

// appendState appends r's state file to b.
func appendState(b []byte, r record) []byte {
	b = append(b, stateHeader...)
	quoted := func(k, v string) { b = append(strconv.AppendQuote(append(append(b, k...), '='), v), '\n') }
	number := func(k string, v uint64) { b = append(strconv.AppendUint(append(append(b, k...), '='), v, 10), '\n') }
	quoted("NAME", r.Name)
	quoted("SCOPE", r.Unit)
	quoted("SERVICE", r.Service)
	quoted("ROOT", r.RootDirectory)
	b = append(hex.AppendEncode(append(b, "ID="...), r.ID), '\n')
	number("LEADER", uint64(r.Leader))
	number("LEADER_PIDFDID", r.LeaderID.PidfdID)
	number("LEADER_STARTTIME", r.LeaderID.StartTime)
	quoted("CLASS", string(r.Class))
	number("REALTIME", r.Timestamp)
	number("MONOTONIC", r.TimestampMonotonic)
	b = append(b, "NETIF="...)
	for i, n := range r.NetworkInterfaces {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return append(b, '\n')
}

// decodeState parses a state file. Every key must appear exactly once and
// no other key may; the caller validates the result as a Spec.
func decodeState(data []byte) (record, error) {
	var r record
	if len(data) > maxStateSize {
		return r, fmt.Errorf("%d bytes: %w", len(data), ErrBadState)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1024), maxStateSize+1)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || seen[k] {
			return r, fmt.Errorf("line %q: %w", truncate(line), ErrBadState)
		}
		seen[k] = true
		if err := r.set(k, v); err != nil {
			return r, fmt.Errorf("key %s: %w: %w", k, ErrBadState, err)
		}
	}
	if err := sc.Err(); err != nil {
		return r, fmt.Errorf("%w: %w", ErrBadState, err)
	}
	if len(seen) != len(stateKeys) {
		return r, fmt.Errorf("missing keys: %w", ErrBadState)
	}
	return r, nil
}

var stateKeys = []string{"NAME", "SCOPE", "SERVICE", "ROOT", "ID", "LEADER", "LEADER_PIDFDID",
	"LEADER_STARTTIME", "CLASS", "REALTIME", "MONOTONIC", "NETIF"}

func (r *record) set(k, v string) (err error) {
	switch k {
	case "NAME":
		r.Name, err = strconv.Unquote(v)
	case "SCOPE":
		r.Unit, err = strconv.Unquote(v)
	case "SERVICE":
		r.Service, err = strconv.Unquote(v)
	case "ROOT":
		r.RootDirectory, err = strconv.Unquote(v)
	case "CLASS":
		var c string
		c, err = strconv.Unquote(v)
		r.Class = Class(c)
	case "ID":
		r.ID, err = hex.DecodeString(v)
	default:
		return r.setNumber(k, v)
	}
	return err
}

func (r *record) setNumber(k, v string) (err error) {
	switch k {
	case "LEADER":
		var n uint64
		n, err = strconv.ParseUint(v, 10, 32)
		r.Leader = uint32(n)
	case "LEADER_PIDFDID":
		r.LeaderID.PidfdID, err = strconv.ParseUint(v, 10, 64)
	case "LEADER_STARTTIME":
		r.LeaderID.StartTime, err = strconv.ParseUint(v, 10, 64)
	case "REALTIME":
		r.Timestamp, err = strconv.ParseUint(v, 10, 64)
	case "MONOTONIC":
		r.TimestampMonotonic, err = strconv.ParseUint(v, 10, 64)
	case "NETIF":
		r.NetworkInterfaces, err = parseIfindices(v)
	default:
		return fmt.Errorf("unknown key")
	}
	return err
}

func parseIfindices(v string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Fields(v) {
		n, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			return nil, err
		}
		out = append(out, int32(n))
	}
	return out, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
