package dbuswire

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// AppendAuth appends the client's side of the SASL EXTERNAL handshake
// for uid, up to BEGIN: the NUL byte, "AUTH EXTERNAL" with the uid's
// decimal digits in hex, and "BEGIN". The first message may follow at
// once; the bus answers with a line (ReadAuthOK) before its replies.
func AppendAuth(b []byte, uid int) []byte {
	const digits = "0123456789abcdef"
	b = append(b, "\x00AUTH EXTERNAL "...)
	for _, c := range []byte(strconv.Itoa(uid)) {
		b = append(b, digits[c>>4], digits[c&15])
	}
	return append(b, "\r\nBEGIN\r\n"...)
}

// ReadAuthOK reads the bus's answer to AppendAuth's handshake and
// returns an error unless it accepted ("OK" and the server's GUID).
func ReadAuthOK(r *bufio.Reader) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	if !strings.HasPrefix(line, "OK ") {
		return fmt.Errorf("authenticate: refused: %q", strings.TrimSpace(line))
	}
	return nil
}
