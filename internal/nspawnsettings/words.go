package nspawnsettings

import (
	"strconv"
	"strings"
)

// parseBool parses systemd's boolean words (parse_boolean).
func parseBool(v string) (bool, error) {
	if b, ok := boolWord(v); ok {
		return b, nil
	}
	return false, invalid("not a boolean: %q", v)
}

// boolWord is parseBool without the error: ok reports whether v is a
// boolean word at all, for callers that try another meaning next and
// would build the error for nothing.
func boolWord(v string) (b, ok bool) {
	switch strings.ToLower(v) {
	case "1", "yes", "y", "true", "t", "on":
		return true, true
	case "0", "no", "n", "false", "f", "off":
		return false, true
	}
	return false, false
}

// formatBool returns "yes" or "no".
func formatBool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// splitWords splits v into words the way nspawn's list settings do
// (extract_first_word with EXTRACT_UNQUOTE|EXTRACT_RETAIN_ESCAPE): words
// are separated by whitespace, single and double quotes group (and quoted
// parts concatenate with what touches them), and a backslash is an
// ordinary character.
func splitWords(v string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, invalid("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// quoteWord writes w so that splitWords reads it back as one word: bare
// if it can be, otherwise in double quotes, with any double quote in
// single quotes ("a"'"'"b" is a"b).
func quoteWord(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t\n\r'\"") {
		return w
	}
	var b strings.Builder
	for _, part := range strings.SplitAfter(w, `"`) {
		seg, hasQuote := strings.CutSuffix(part, `"`)
		if seg != "" || b.Len() == 0 && !hasQuote {
			b.WriteString(`"` + seg + `"`)
		}
		if hasQuote {
			b.WriteString(`'"'`)
		}
	}
	return b.String()
}

// joinWords formats a word list back into list syntax. A last word ending
// in a backslash is put in quotes, or the backslash would continue the line.
func joinWords(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = quoteWord(w)
	}
	if n := len(q) - 1; n >= 0 && q[n] == ws[n] && strings.HasSuffix(ws[n], `\`) {
		q[n] = `"` + ws[n] + `"`
	}
	return strings.Join(q, " ")
}

// appendList appends add to old, or resets the list when v is empty, and
// enforces MaxListEntries. It may reuse old's storage: lists copied between
// Settings values are clipped (see key.copy), so that is never shared.
func appendList[T any](old []T, v string, add []T) ([]T, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	if len(old)+len(add) > MaxListEntries {
		return nil, &limitError{n: MaxListEntries}
	}
	return append(old, add...), nil
}

// limitError reports a list that grew past its limit.
type limitError struct{ n int }

func (e *limitError) Error() string { return "more than " + strconv.Itoa(e.n) + " entries" }
func (e *limitError) Unwrap() error { return ErrTooLarge }

// parseUint parses a decimal unsigned integer of at most bits bits.
func parseUint(v string, bits int) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, bits)
	if err != nil {
		return 0, invalid("not an unsigned %d-bit number: %q", bits, v)
	}
	return n, nil
}

// validPath reports whether p is an absolute, normalized path without NUL
// bytes or ".." components.
func validPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return invalid("path %q is not absolute", p)
	}
	if len(p) > 4096 || strings.ContainsRune(p, 0) {
		return invalid("path %q is too long or has a NUL byte", p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." || c == "." {
			return invalid("path %q has a %q component", p, c)
		}
	}
	return nil
}

// validIfname reports whether s is a valid network interface name
// (ifname_valid): 1-15 bytes, printable, no '/', ':' or whitespace, not "."
// or "..".
func validIfname(s string) error {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return invalid("interface name %q", s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '/' || c == ':' {
			return invalid("interface name %q", s)
		}
	}
	return nil
}
