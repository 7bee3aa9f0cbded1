package nspawnsettings

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// BindMount is one Bind= or BindReadOnly= entry: SRC[:DST[:OPTS]].
type BindMount struct {
	// Source is the host path; empty for a temporary directory. With
	// SourceInRoot it is relative to the container's root.
	Source string
	// SourceInRoot is true for a "+SRC" source.
	SourceInRoot bool
	// Destination is the path in the container.
	Destination string
	// Recursive is false for "norbind" (default rbind).
	Recursive bool
	// IDMap is "", "idmap", "noidmap" or "rootidmap" as given.
	IDMap string
}

// String formats b back into Bind= syntax.
func (b BindMount) String() string {
	src := escapeColons(b.Source)
	if b.SourceInRoot {
		src = "+" + src
	}
	s := src + ":" + escapeColons(b.Destination)
	var opts []string
	if !b.Recursive {
		opts = append(opts, "norbind")
	}
	if b.IDMap != "" {
		opts = append(opts, b.IDMap)
	}
	if len(opts) > 0 || endsInSpace(b.Destination) {
		s += ":" + strings.Join(opts, ",")
	}
	return s
}

// endsInSpace reports whether a field written last on a line would end
// in whitespace, which the line parser trims, escaped or not: such a field
// is followed by an empty option list (a trailing colon).
func endsInSpace(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && unicode.IsSpace(r)
}

// parseBind parses one Bind= value as nspawn's bind_mount_parse does.
func parseBind(v string) (BindMount, error) {
	parts, rest, err := splitColons(v, 2)
	if err != nil {
		return BindMount{}, err
	}
	b := BindMount{Recursive: true}
	b.Source, b.SourceInRoot = strings.CutPrefix(parts[0], "+")
	switch {
	case b.SourceInRoot && b.Source == "":
		return BindMount{}, invalid("empty \"+\" source")
	case b.Source != "":
		if err := validPath(b.Source); err != nil {
			return BindMount{}, err
		}
	}
	b.Destination = b.Source
	if len(parts) > 1 {
		b.Destination = parts[1]
	}
	if b.Destination == "" {
		return BindMount{}, invalid("bind %q has no destination", v)
	}
	if err := validPath(b.Destination); err != nil {
		return BindMount{}, err
	}
	if rest != "" {
		if err := b.parseOptions(rest); err != nil {
			return BindMount{}, err
		}
	}
	return b, nil
}

// parseOptions applies a comma-separated bind option list.
func (b *BindMount) parseOptions(opts string) error {
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "rbind":
			b.Recursive = true
		case "norbind":
			b.Recursive = false
		case "idmap", "noidmap", "rootidmap":
			b.IDMap = o
		default:
			return invalid("unknown bind option %q", o)
		}
	}
	return nil
}

// splitColons splits v at unescaped colons into at most n fields and returns
// the unsplit remainder after the n-th colon. "\:" is a literal colon.
func splitColons(v string, n int) (fields []string, rest string, err error) {
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v):
			i++
			cur.WriteByte(v[i])
		case c == '\\':
			return nil, "", invalid("trailing backslash")
		case c == ':' && len(fields) == n-1:
			return append(fields, cur.String()), v[i+1:], nil
		case c == ':':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(fields, cur.String()), "", nil
}

// escapeColons escapes colons, backslashes and whitespace (which the line
// parser would trim) for colon-separated syntax.
func escapeColons(s string) string {
	return strings.NewReplacer(`\`, `\\`, ":", `\:`, " ", `\ `, "\t", "\\\t").Replace(s)
}

// TmpFS is one TemporaryFileSystem= entry: PATH[:OPTS].
type TmpFS struct {
	// Path is where the tmpfs is mounted in the container.
	Path string
	// Options are the mount options as given; empty means "mode=0755".
	Options string
}

// String formats t in TemporaryFileSystem= syntax.
func (t TmpFS) String() string {
	if t.Options == "" && !endsInSpace(t.Path) {
		return escapeColons(t.Path)
	}
	return escapeColons(t.Path) + ":" + t.Options
}

// parseTmpFS parses one TemporaryFileSystem= value.
func parseTmpFS(v string) (TmpFS, error) {
	parts, rest, err := splitColons(v, 1)
	if err != nil {
		return TmpFS{}, err
	}
	if err := validPath(parts[0]); err != nil {
		return TmpFS{}, err
	}
	if strings.ContainsRune(rest, 0) {
		return TmpFS{}, invalid("NUL byte in tmpfs options")
	}
	return TmpFS{Path: parts[0], Options: rest}, nil
}

// OverlayMount is one Overlay= or OverlayReadOnly= entry.
type OverlayMount struct {
	// Lower are the lower directories, bottom first. A "+" prefix (kept)
	// means relative to the container root.
	Lower []string
	// Upper is the upper directory; empty for a throw-away directory.
	Upper string
	// Destination is the mount point in the container.
	Destination string
}

// String formats o in Overlay= syntax.
func (o OverlayMount) String() string {
	parts := make([]string, 0, len(o.Lower)+2)
	for _, l := range o.Lower {
		parts = append(parts, escapeColons(l))
	}
	return strings.Join(append(parts, escapeColons(o.Upper), escapeColons(o.Destination)), ":")
}

// parseOverlay parses "L:U" (destination U) or "L...:U:DST".
func parseOverlay(v string) (OverlayMount, error) {
	parts, _, err := splitColons(v, -1)
	if err != nil {
		return OverlayMount{}, err
	}
	if len(parts) < 2 {
		return OverlayMount{}, invalid("overlay %q needs at least two paths", v)
	}
	var o OverlayMount
	if len(parts) == 2 {
		o = OverlayMount{Lower: parts[:1], Upper: parts[1], Destination: parts[1]}
	} else {
		n := len(parts)
		o = OverlayMount{Lower: parts[:n-2], Upper: parts[n-2], Destination: parts[n-1]}
	}
	for _, l := range o.Lower {
		if err := validSource(l, false); err != nil {
			return OverlayMount{}, err
		}
	}
	if err := validSource(o.Upper, true); err != nil {
		return OverlayMount{}, err
	}
	if err := validPath(o.Destination); err != nil {
		return OverlayMount{}, err
	}
	return o, nil
}

// validSource checks an overlay directory: absolute, or "+" and absolute,
// or empty where allowed.
func validSource(s string, emptyOK bool) error {
	if s == "" {
		if emptyOK {
			return nil
		}
		return invalid("empty overlay lower directory")
	}
	return validPath(strings.TrimPrefix(s, "+"))
}
