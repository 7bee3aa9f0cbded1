package spawn

import (
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/nspawnopts"
)

// lockImage takes the image's lock (images.Manager.LockPath) for as long
// as the container runs, so the image is neither removed nor renamed under
// it and a second writable start of it fails as busy. A read-only,
// ephemeral or volatile start does not write the image and takes none.
func lockImage(c *nspawnopts.Config, o Options) (*images.Lock, error) {
	if c.ReadOnly || c.Ephemeral || c.Volatile != nspawnopts.VolatileNo {
		return nil, nil
	}
	img := c.Directory
	if c.Image != "" {
		img = c.Image
	}
	l, err := images.New(o.Paths).LockPath(img)
	if errors.Is(err, images.ErrBusy) {
		return nil, fmt.Errorf("image %s is busy: a machine runs from it", img)
	}
	return l, err
}
