package machine1

import (
	"fmt"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/dbus-interfaces"
	"github.com/berth-dev/berth/internal/buslabel"
)

// Image describes one image as org.freedesktop.machine1.Image does. Sizes
// the library cannot know are ^uint64(0), timestamps 0.
type Image struct {
	Name, Type, Path                             string
	ReadOnly                                     bool
	CreationTimestamp, ModificationTimestamp     uint64
	Usage, Limit, UsageExclusive, LimitExclusive uint64
}

// ImageMetadata is what an image says about itself.
type ImageMetadata struct {
	Hostname    string
	MachineID   []byte
	MachineInfo map[string]string
	OSRelease   map[string]string
}

// Cleaned is an image CleanPool removed, with the space it used alone.
type Cleaned struct {
	Name           string
	UsageExclusive uint64
}

// Images is what the adapter needs of the image library; Library
// implements it over internal/images.
type Images interface {
	List() ([]Image, error)
	Get(name string) (Image, error)
	Metadata(name string) (ImageMetadata, error)
	Remove(name string) error
	Rename(name, newName string) error
	Clone(name, newName string, readOnly bool) error
	MarkReadOnly(name string, ro bool) error
	SetLimit(name string, limit uint64) error
	SetPoolLimit(limit uint64) error
	Clean(mode string) ([]Cleaned, error)
	PoolUsage() (usage, limit uint64)
}

// imageRow is one ListImages entry: a(ssbttto).
type imageRow struct {
	Name, Type           string
	ReadOnly             bool
	Crtime, Mtime, Usage uint64
	Path                 dbus.ObjectPath
}

func (s *Server) imageLib() (Images, error) {
	if s.opts.Images == nil {
		return nil, fmt.Errorf("images: %w", errNotSupported)
	}
	return s.opts.Images, nil
}

func (s *Server) image(name string) (Image, error) {
	lib, err := s.imageLib()
	if err != nil {
		return Image{}, err
	}
	return lib.Get(name)
}

func (s *Server) getImage(_ dbus.Message, name string) (dbus.ObjectPath, *dbus.Error) {
	img, err := s.image(name)
	if err != nil {
		return "", busError(err)
	}
	return ImagePath(img.Name), nil
}

func (s *Server) listImages(dbus.Message) ([]imageRow, *dbus.Error) {
	lib, err := s.imageLib()
	if err != nil {
		return nil, busError(err)
	}
	imgs, err := lib.List()
	if err != nil {
		return nil, busError(err)
	}
	out := make([]imageRow, len(imgs))
	for i, m := range imgs {
		out[i] = imageRow{m.Name, m.Type, m.ReadOnly, m.CreationTimestamp, m.ModificationTimestamp, m.Usage, ImagePath(m.Name)}
	}
	return out, nil
}

// mutateImage runs op on the image library after requiring root.
func (s *Server) mutateImage(msg dbus.Message, what string, op func(Images) error) *dbus.Error {
	if err := s.requireRoot(msg, what); err != nil {
		return busError(err)
	}
	lib, err := s.imageLib()
	if err != nil {
		return busError(err)
	}
	return busError(op(lib))
}

func (s *Server) removeImage(msg dbus.Message, name string) *dbus.Error {
	return s.mutateImage(msg, "remove image", func(l Images) error { return l.Remove(name) })
}

func (s *Server) renameImage(msg dbus.Message, name, newName string) *dbus.Error {
	return s.mutateImage(msg, "rename image", func(l Images) error { return l.Rename(name, newName) })
}

func (s *Server) cloneImage(msg dbus.Message, name, newName string, ro bool) *dbus.Error {
	return s.mutateImage(msg, "clone image", func(l Images) error { return l.Clone(name, newName, ro) })
}

func (s *Server) markImageReadOnly(msg dbus.Message, name string, ro bool) *dbus.Error {
	return s.mutateImage(msg, "mark image read-only", func(l Images) error { return l.MarkReadOnly(name, ro) })
}

func (s *Server) setImageLimit(msg dbus.Message, name string, limit uint64) *dbus.Error {
	return s.mutateImage(msg, "set image limit", func(l Images) error { return l.SetLimit(name, limit) })
}

func (s *Server) setPoolLimit(msg dbus.Message, limit uint64) *dbus.Error {
	return s.mutateImage(msg, "set pool limit", func(l Images) error { return l.SetPoolLimit(limit) })
}

func (s *Server) cleanPool(msg dbus.Message, mode string) ([]Cleaned, *dbus.Error) {
	var out []Cleaned
	err := s.mutateImage(msg, "clean pool", func(l Images) error {
		if mode != "all" && mode != "hidden" {
			return fmt.Errorf("clean pool: unknown mode %q: %w", mode, errInvalidArgs)
		}
		var err error
		out, err = l.Clean(mode)
		return err
	})
	if out == nil {
		out = []Cleaned{}
	}
	return out, err
}

func (s *Server) metadata(name string) (ImageMetadata, error) {
	lib, err := s.imageLib()
	if err != nil {
		return ImageMetadata{}, err
	}
	return lib.Metadata(name)
}

func (s *Server) getImageHostname(_ dbus.Message, name string) (string, *dbus.Error) {
	md, err := s.metadata(name)
	return md.Hostname, busError(err)
}

func (s *Server) getImageMachineID(_ dbus.Message, name string) ([]byte, *dbus.Error) {
	md, err := s.metadata(name)
	if md.MachineID == nil {
		md.MachineID = []byte{}
	}
	return md.MachineID, busError(err)
}

func (s *Server) getImageMachineInfo(_ dbus.Message, name string) (map[string]string, *dbus.Error) {
	md, err := s.metadata(name)
	if md.MachineInfo == nil {
		md.MachineInfo = map[string]string{}
	}
	return md.MachineInfo, busError(err)
}

func (s *Server) getImageOSRelease(_ dbus.Message, name string) (map[string]string, *dbus.Error) {
	md, err := s.metadata(name)
	if md.OSRelease == nil {
		md.OSRelease = map[string]string{}
	}
	return md.OSRelease, busError(err)
}

// imageOf resolves the image a call on an image object is for.
func (s *Server) imageOf(msg dbus.Message) (Image, error) {
	label := strings.TrimPrefix(string(path(msg)), imageDir+"/")
	name := buslabel.Unescape(label)
	img, err := s.image(name)
	if err != nil || buslabel.Escape(name) != label {
		return Image{}, errUnknown(path(msg))
	}
	return img, nil
}

func (s *Server) imageMethods() iface {
	return iface{
		"Remove": newMethod(func(msg dbus.Message) *dbus.Error {
			return s.onImageDo(msg, func(n string) *dbus.Error { return s.removeImage(msg, n) })
		}),
		"Rename": newMethod(func(msg dbus.Message, newName string) *dbus.Error {
			return s.onImageDo(msg, func(n string) *dbus.Error { return s.renameImage(msg, n, newName) })
		}),
		"Clone": newMethod(func(msg dbus.Message, newName string, ro bool) *dbus.Error {
			return s.onImageDo(msg, func(n string) *dbus.Error { return s.cloneImage(msg, n, newName, ro) })
		}),
		"MarkReadOnly": newMethod(func(msg dbus.Message, ro bool) *dbus.Error {
			return s.onImageDo(msg, func(n string) *dbus.Error { return s.markImageReadOnly(msg, n, ro) })
		}),
		"SetLimit": newMethod(func(msg dbus.Message, limit uint64) *dbus.Error {
			return s.onImageDo(msg, func(n string) *dbus.Error { return s.setImageLimit(msg, n, limit) })
		}),
		"GetHostname":    newMethod(onImage(s, s.getImageHostname)),
		"GetMachineID":   newMethod(onImage(s, s.getImageMachineID)),
		"GetMachineInfo": newMethod(onImage(s, s.getImageMachineInfo)),
		"GetOSRelease":   newMethod(onImage(s, s.getImageOSRelease)),
	}
}

// onImageDo resolves the image of a call on an image object, then runs do.
// Root is checked inside do before anything changes.
func (s *Server) onImageDo(msg dbus.Message, do func(name string) *dbus.Error) *dbus.Error {
	if err := s.requireRoot(msg, "change image"); err != nil {
		return busError(err)
	}
	img, err := s.imageOf(msg)
	if err != nil {
		return busError(err)
	}
	return do(img.Name)
}

// onImage turns a Manager image getter into the Image object's method.
func onImage[T any](s *Server, get func(dbus.Message, string) (T, *dbus.Error)) func(dbus.Message) (T, *dbus.Error) {
	return func(msg dbus.Message) (T, *dbus.Error) {
		img, err := s.imageOf(msg)
		if err != nil {
			var zero T
			return zero, busError(err)
		}
		return get(msg, img.Name)
	}
}

// imageProps returns the properties of the image of a call.
func (s *Server) imageProps(msg dbus.Message) (propSet, error) {
	img, err := s.imageOf(msg)
	if err != nil {
		return nil, err
	}
	return imageProperties(img), nil
}

func imageProperties(img Image) propSet {
	v := dbus.MakeVariant
	return propSet{dbusinterfaces.Image: {
		"Name": v(img.Name), "Path": v(img.Path), "Type": v(img.Type), "ReadOnly": v(img.ReadOnly),
		"CreationTimestamp": v(img.CreationTimestamp), "ModificationTimestamp": v(img.ModificationTimestamp),
		"Usage": v(img.Usage), "Limit": v(img.Limit), "UsageExclusive": v(img.UsageExclusive), "LimitExclusive": v(img.LimitExclusive),
	}}
}
