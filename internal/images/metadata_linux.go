package images

import (
	"github.com/berth-dev/berth/internal/imagefiles"
)

// Metadata is what an image says about itself.
type Metadata struct {
	// Hostname is /etc/hostname, "" if none.
	Hostname string
	// MachineID is /etc/machine-id (16 bytes), nil if unset.
	MachineID []byte
	// MachineInfo is /etc/machine-info; empty if none.
	MachineInfo map[string]string
	// OSRelease is /etc/os-release or /usr/lib/os-release; empty if none.
	OSRelease map[string]string
}

// Metadata reads the identity files of an image, never following a
// symlink out of the image (see package imagefiles). Raw and block images
// are mounted read-only for the read, in a private mount namespace (see
// mountedMetadata); they must hold a single file system.
func (m *Manager) Metadata(name string) (Metadata, error) {
	img, err := m.Find(name)
	if err != nil {
		return Metadata{}, opError("read metadata of", name, err)
	}
	var md Metadata
	if img.Type == Raw || img.Type == Block {
		md, err = mountedMetadata(img, m.paths.Run)
	} else {
		md, err = readMetadata(img.Path)
	}
	return md, opError("read metadata of", name, err)
}

// readMetadata reads the identity files below the root directory path.
func readMetadata(path string) (Metadata, error) {
	r, err := imagefiles.Open(path)
	if err != nil {
		return Metadata{}, err
	}
	defer r.Close()
	var md Metadata
	if md.Hostname, err = r.Hostname(); err != nil {
		return Metadata{}, err
	}
	if md.MachineID, err = r.MachineID(); err != nil {
		return Metadata{}, err
	}
	if md.MachineInfo, err = r.MachineInfo(); err != nil {
		return Metadata{}, err
	}
	if md.OSRelease, err = r.OSRelease(); err != nil {
		return Metadata{}, err
	}
	return md, nil
}
