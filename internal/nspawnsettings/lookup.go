package nspawnsettings

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/berth-dev/berth/internal/names"
	"github.com/berth-dev/berth/internal/paths"
)

// ErrNotFound is returned by Find when no NAME.nspawn exists.
var ErrNotFound = errors.New("no settings file")

// Find looks up machine+".nspawn": first in p.SettingsTrusted (trusted;
// the first hit wins and the search stops), then in the directory holding
// image (untrusted; skipped when image is "" or the root). Trust follows
// the directory the name was found in: a symlink there pointing into a
// trusted directory is still untrusted. The file is opened once and read
// from that descriptor (O_NONBLOCK, regular files only, at most
// MaxFileSize bytes), so what is parsed is what is applied. It returns
// ErrNotFound when no directory has the file, and a *ParseError-joined
// error when the file found is malformed. Reading /etc and the pool needs
// whatever permissions those directories have (root on a real host).
func Find(p paths.Paths, machine, image string) (*File, error) {
	if err := names.ValidMachine(machine); err != nil {
		return nil, fmt.Errorf("find settings: %w", err)
	}
	base := machine + ".nspawn"
	type candidate struct {
		dir     string
		trusted bool
	}
	var cands []candidate
	for _, d := range p.SettingsTrusted {
		cands = append(cands, candidate{d, true})
	}
	if image != "" && filepath.Clean(image) != filepath.Clean(p.Root) && filepath.Clean(image) != "/" {
		cands = append(cands, candidate{filepath.Dir(filepath.Clean(image)), false})
	}
	for _, c := range cands {
		f, err := load(c.dir, base, c.trusted)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		return f, err
	}
	return nil, ErrNotFound
}

// Resolve finds the machine's settings file (see Find) and merges it with
// the command line (see Merge). A missing file is not an error; a
// malformed one is. With ModeNo no file is read.
func Resolve(p paths.Paths, machine, image string, cmd *Settings, mode Mode) (*Effective, error) {
	if mode == ModeNo {
		return Merge(cmd, nil, mode), nil
	}
	f, err := Find(p, machine, image)
	switch {
	case errors.Is(err, ErrNotFound):
		f = nil
	case err != nil:
		return nil, err
	}
	return Merge(cmd, f, mode), nil
}
