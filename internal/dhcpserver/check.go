package dhcpserver

import (
	"errors"
)

// Packet limits.
const (
	minPacket   = 240  // BOOTP header and magic cookie
	maxPacket   = 4096 // larger packets are dropped
	optionStart = 240
)

// Reasons a packet is dropped before decoding.
var (
	errShort     = errors.New("shorter than 240 bytes")
	errLong      = errors.New("longer than 4096 bytes")
	errOp        = errors.New("not a BOOTREQUEST")
	errHWType    = errors.New("hardware type not Ethernet")
	errHWLen     = errors.New("bad hardware address length")
	errCookie    = errors.New("bad magic cookie")
	errOptionLen = errors.New("option runs past the end")
	errNoEnd     = errors.New("no END option")
	errAfterEnd  = errors.New("data after END")
	errOverload  = errors.New("option overload")
	errMsgType   = errors.New("missing or bad message type")
	errClientID  = errors.New("bad client identifier length")
	errHostname  = errors.New("bad host name length")
)

// Option codes checked on the raw packet.
const (
	optPad      = 0
	optHostname = 12
	optOverload = 52
	optMsgType  = 53
	optClientID = 61
	optEnd      = 255
)

// check validates the raw bytes of a request without decoding it.
func check(b []byte) error {
	switch {
	case len(b) < minPacket:
		return errShort
	case len(b) > maxPacket:
		return errLong
	case b[0] != 1:
		return errOp
	case b[1] != 1:
		return errHWType
	case b[2] != 6:
		return errHWLen
	case b[236] != 99 || b[237] != 130 || b[238] != 83 || b[239] != 99:
		return errCookie
	}
	return checkOptions(b[optionStart:])
}

// checkOptions walks the options, bounds-checking every one, and checks the
// total lengths of the options the server relies on.
func checkOptions(b []byte) error {
	var total [256]int
	var seen [256]bool
	i := 0
	for {
		if i >= len(b) {
			return errNoEnd
		}
		code := b[i]
		if code == optPad {
			i++
			continue
		}
		if code == optEnd {
			break
		}
		if i+1 >= len(b) || i+2+int(b[i+1]) > len(b) {
			return errOptionLen
		}
		total[code] += int(b[i+1])
		seen[code] = true
		i += 2 + int(b[i+1])
	}
	for _, c := range b[i+1:] {
		if c != optPad {
			return errAfterEnd
		}
	}
	return checkTotals(&total, &seen)
}

func checkTotals(total *[256]int, seen *[256]bool) error {
	switch {
	case seen[optOverload]:
		return errOverload
	case total[optMsgType] != 1:
		return errMsgType
	case seen[optClientID] && (total[optClientID] < 2 || total[optClientID] > 254):
		return errClientID
	case seen[optHostname] && (total[optHostname] < 1 || total[optHostname] > 253):
		return errHostname
	}
	return nil
}
