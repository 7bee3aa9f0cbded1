package machine1

import (
	"context"

	"github.com/berth-dev/berth/internal/images"
)

// Library adapts the image library to Images.
type Library struct {
	// Images is the library (internal/images).
	Images *images.Manager
}

func fromLibrary(i images.Image) Image {
	return Image{
		Name: i.Name, Type: string(i.Type), Path: i.Path, ReadOnly: i.ReadOnly,
		CreationTimestamp: i.CreationTimestamp, ModificationTimestamp: i.ModificationTimestamp,
		Usage: i.Usage, Limit: i.Limit, UsageExclusive: i.UsageExclusive, LimitExclusive: i.LimitExclusive,
	}
}

// List implements Images.
func (l Library) List() ([]Image, error) {
	imgs, err := l.Images.List()
	out := make([]Image, len(imgs))
	for i, img := range imgs {
		out[i] = fromLibrary(img)
	}
	return out, err
}

// Get implements Images.
func (l Library) Get(name string) (Image, error) {
	img, err := l.Images.Find(name)
	return fromLibrary(img), err
}

// Metadata implements Images.
func (l Library) Metadata(name string) (ImageMetadata, error) {
	md, err := l.Images.Metadata(name)
	return ImageMetadata(md), err
}

// Remove implements Images.
func (l Library) Remove(name string) error { return l.Images.Remove(name) }

// Rename implements Images.
func (l Library) Rename(name, newName string) error { return l.Images.Rename(name, newName) }

// Clone implements Images. The copy is not cancelled when the caller
// leaves: a half clone is never visible either way.
func (l Library) Clone(name, newName string, readOnly bool) error {
	return l.Images.Clone(context.Background(), name, newName, readOnly, nil)
}

// MarkReadOnly implements Images.
func (l Library) MarkReadOnly(name string, ro bool) error { return l.Images.MarkReadOnly(name, ro) }

// SetLimit implements Images.
func (l Library) SetLimit(name string, limit uint64) error { return l.Images.SetLimit(name, limit) }

// SetPoolLimit implements Images.
func (l Library) SetPoolLimit(limit uint64) error { return l.Images.SetPoolLimit(limit) }

// Clean implements Images.
func (l Library) Clean(mode string) ([]Cleaned, error) {
	removed, err := l.Images.Clean(images.CleanMode(mode))
	out := make([]Cleaned, len(removed))
	for i, r := range removed {
		out[i] = Cleaned{Name: r.Name, UsageExclusive: r.UsageExclusive}
	}
	return out, err
}

// PoolUsage implements Images.
func (l Library) PoolUsage() (usage, limit uint64) { return l.Images.PoolUsage() }
