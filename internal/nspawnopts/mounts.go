package nspawnopts

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// mounts parses --bind, --bind-ro, --tmpfs, --overlay, --overlay-ro and
// --inaccessible.
func (r *raw) mounts(c *Config) error {
	for _, v := range r.binds {
		b, err := ParseBind(v.value, v.ro)
		if err != nil {
			return err
		}
		c.Binds = append(c.Binds, b)
	}
	for _, s := range r.tmpfs {
		t, err := ParseTmpFS(s)
		if err != nil {
			return err
		}
		c.TmpFS = append(c.TmpFS, t)
	}
	if err := r.overlayMounts(c); err != nil {
		return err
	}
	for _, p := range r.inaccessible {
		if !cleanAbs(p) {
			return fmt.Errorf("--inaccessible= needs an absolute path, got %q", p)
		}
		c.Inaccessible = append(c.Inaccessible, path.Clean(p))
	}
	return nil
}

func (r *raw) overlayMounts(c *Config) error {
	for _, v := range r.overlays {
		o, err := ParseOverlay(v.value, v.ro)
		if err != nil {
			return err
		}
		c.Overlays = append(c.Overlays, o)
	}
	return nil
}

// splitColons splits s at unescaped colons; "\:" stands for a colon and
// "\\" for a backslash.
func splitColons(s string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case s[i] == ':':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(parts, cur.String())
}

// cleanAbs reports whether p is an absolute path without NUL bytes.
func cleanAbs(p string) bool {
	return path.IsAbs(p) && !strings.ContainsRune(p, 0)
}

// ParseBind parses SRC[:DST[:OPTS]] of --bind (ro false) or --bind-ro.
// OPTS is the rest after the second colon, so idmap=HOST:CONTAINER[:COUNT]
// needs no escaping.
func ParseBind(s string, ro bool) (Bind, error) {
	parts := splitColons(s)
	if len(parts) > 3 {
		parts = append(parts[:2], strings.Join(parts[2:], ":"))
	}
	b := Bind{Source: parts[0], ReadOnly: ro, Recursive: true}
	if src, ok := strings.CutPrefix(b.Source, "+"); ok {
		b.Source, b.SourceInRoot = src, true
	}
	b.Dest = b.Source
	if len(parts) > 1 {
		b.Dest = parts[1]
	}
	if b.Source != "" && !cleanAbs(b.Source) {
		return Bind{}, fmt.Errorf("bind mount source must be absolute: %q", s)
	}
	if !cleanAbs(b.Dest) {
		return Bind{}, fmt.Errorf("bind mount destination must be absolute: %q", s)
	}
	b.Dest = path.Clean(b.Dest)
	if len(parts) == 3 {
		if err := b.options(parts[2]); err != nil {
			return Bind{}, fmt.Errorf("bind mount %q: %w", s, err)
		}
	}
	return b, nil
}

func (b *Bind) options(opts string) error {
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "", "rbind":
			b.Recursive = true
		case "norbind":
			b.Recursive = false
		default:
			ok, err := b.bindIDMap(o)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("unknown option %q", o)
			}
		}
	}
	return nil
}

// ParseTmpFS parses PATH[:OPTS] of --tmpfs.
func ParseTmpFS(s string) (TmpFS, error) {
	p, opts, _ := strings.Cut(s, ":")
	if !cleanAbs(p) {
		return TmpFS{}, fmt.Errorf("--tmpfs= needs an absolute path, got %q", s)
	}
	if opts == "" {
		opts = "mode=0755"
	}
	return TmpFS{Dest: path.Clean(p), Options: opts}, nil
}

// ParseOverlay parses LOWER...:UPPER[:DST] of --overlay (ro false) or
// LOWER...:DST of --overlay-ro. Two parts of --overlay mean LOWER:UPPER with
// the destination at UPPER.
func ParseOverlay(s string, ro bool) (Overlay, error) {
	parts := splitColons(s)
	if len(parts) < 2 {
		return Overlay{}, fmt.Errorf("overlay %q needs at least two paths", s)
	}
	o := Overlay{ReadOnly: ro}
	switch {
	case ro:
		o.Lower, o.Dest = parts[:len(parts)-1], parts[len(parts)-1]
	case len(parts) == 2:
		o.Lower, o.Upper, o.Dest = parts[:1], parts[1], parts[1]
	default:
		n := len(parts)
		o.Lower, o.Upper, o.Dest = parts[:n-2], parts[n-2], parts[n-1]
	}
	for i, l := range o.Lower {
		if !cleanAbs(strings.TrimPrefix(l, "+")) {
			return Overlay{}, fmt.Errorf("overlay %q: lower directory %d must be absolute", s, i+1)
		}
	}
	if o.Upper != "" && !cleanAbs(strings.TrimPrefix(o.Upper, "+")) {
		return Overlay{}, fmt.Errorf("overlay %q: upper directory must be absolute", s)
	}
	if !cleanAbs(o.Dest) {
		if o.Dest == "" && !ro && len(parts) == 2 {
			return Overlay{}, errors.New("overlay: an empty upper directory needs an explicit destination")
		}
		return Overlay{}, fmt.Errorf("overlay %q: destination must be absolute", s)
	}
	o.Dest = path.Clean(o.Dest)
	return o, nil
}
