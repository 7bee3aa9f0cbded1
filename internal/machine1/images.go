package machine1

import (
	"fmt"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/dbus-interfaces"
	"github.com/berth-dev/berth/internal/buslabel"
)

// ErrNoSuchImage is what an Images implementation returns (wrapped) for
// an unknown image name; the bus sees org.freedesktop.machine1.NoSuchImage.
var ErrNoSuchImage = errNoSuchImage

// Image describes one image as org.freedesktop.machine1.Image does. Sizes
// and timestamps the library cannot know are ^uint64(0) (sizes) or 0.
type Image struct {
	Name, Type, Path                             string
	ReadOnly                                     bool
	CreationTimestamp, ModificationTimestamp     uint64
	Usage, Limit, UsageExclusive, LimitExclusive uint64
}

// Images is what the adapter needs of the image library. Mutating image
// operations are not part of it yet: the bus answers them NotSupported.
type Images interface {
	List() ([]Image, error)
	Get(name string) (Image, error)
	OSRelease(name string) (map[string]string, error)
	Hostname(name string) (string, error)
	MachineID(name string) ([]byte, error)
	MachineInfo(name string) (map[string]string, error)
}

// imageRow is one ListImages entry: a(ssbttto).
type imageRow struct {
	Name, Type           string
	ReadOnly             bool
	Crtime, Mtime, Usage uint64
	Path                 dbus.ObjectPath
}

// cleanRow is one CleanPool entry: a(st).
type cleanRow struct {
	Name  string
	Usage uint64
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

// imageNotYet answers a mutating image method: root is required, the
// image must exist, and then berthd does not implement it yet.
func (s *Server) imageNotYet(msg dbus.Message, name, what string) error {
	if err := s.requireRoot(msg, what); err != nil {
		return err
	}
	if _, err := s.image(name); err != nil {
		return err
	}
	return fmt.Errorf("%s: %w yet", what, errNotSupported)
}

func (s *Server) removeImage(msg dbus.Message, name string) *dbus.Error {
	return busError(s.imageNotYet(msg, name, "remove image"))
}

func (s *Server) renameImage(msg dbus.Message, name, _ string) *dbus.Error {
	return busError(s.imageNotYet(msg, name, "rename image"))
}

func (s *Server) cloneImage(msg dbus.Message, name, _ string, _ bool) *dbus.Error {
	return busError(s.imageNotYet(msg, name, "clone image"))
}

func (s *Server) markImageReadOnly(msg dbus.Message, name string, _ bool) *dbus.Error {
	return busError(s.imageNotYet(msg, name, "mark image read-only"))
}

func (s *Server) setImageLimit(msg dbus.Message, name string, _ uint64) *dbus.Error {
	return busError(s.imageNotYet(msg, name, "set image limit"))
}

func (s *Server) setPoolLimit(msg dbus.Message, _ uint64) *dbus.Error {
	if err := s.requireRoot(msg, "set pool limit"); err != nil {
		return busError(err)
	}
	return busError(fmt.Errorf("set pool limit: %w", errNotSupported))
}

func (s *Server) cleanPool(msg dbus.Message, mode string) ([]cleanRow, *dbus.Error) {
	if err := s.requireRoot(msg, "clean pool"); err != nil {
		return nil, busError(err)
	}
	if mode != "all" && mode != "hidden" {
		return nil, busError(fmt.Errorf("unknown mode %q: %w", mode, errInvalidArgs))
	}
	return nil, busError(fmt.Errorf("clean pool: %w yet", errNotSupported))
}

func (s *Server) getImageHostname(_ dbus.Message, name string) (string, *dbus.Error) {
	lib, err := s.imageLib()
	if err != nil {
		return "", busError(err)
	}
	h, err := lib.Hostname(name)
	return h, busError(err)
}

func (s *Server) getImageMachineID(_ dbus.Message, name string) ([]byte, *dbus.Error) {
	lib, err := s.imageLib()
	if err != nil {
		return nil, busError(err)
	}
	id, err := lib.MachineID(name)
	return id, busError(err)
}

func (s *Server) getImageMachineInfo(_ dbus.Message, name string) (map[string]string, *dbus.Error) {
	lib, err := s.imageLib()
	if err != nil {
		return nil, busError(err)
	}
	info, err := lib.MachineInfo(name)
	return info, busError(err)
}

func (s *Server) getImageOSRelease(_ dbus.Message, name string) (map[string]string, *dbus.Error) {
	lib, err := s.imageLib()
	if err != nil {
		return nil, busError(err)
	}
	m, err := lib.OSRelease(name)
	return m, busError(err)
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
	on := func(f func(dbus.Message, string) error) func(dbus.Message) *dbus.Error {
		return func(msg dbus.Message) *dbus.Error {
			img, err := s.imageOf(msg)
			if err != nil {
				return busError(err)
			}
			return busError(f(msg, img.Name))
		}
	}
	return iface{
		"Remove": newMethod(on(func(msg dbus.Message, n string) error { return s.imageNotYet(msg, n, "remove image") })),
		"Rename": newMethod(func(msg dbus.Message, _ string) *dbus.Error {
			return on(func(msg dbus.Message, n string) error { return s.imageNotYet(msg, n, "rename image") })(msg)
		}),
		"Clone": newMethod(func(msg dbus.Message, _ string, _ bool) *dbus.Error {
			return on(func(msg dbus.Message, n string) error { return s.imageNotYet(msg, n, "clone image") })(msg)
		}),
		"MarkReadOnly": newMethod(func(msg dbus.Message, _ bool) *dbus.Error {
			return on(func(msg dbus.Message, n string) error { return s.imageNotYet(msg, n, "mark image read-only") })(msg)
		}),
		"SetLimit": newMethod(func(msg dbus.Message, _ uint64) *dbus.Error {
			return on(func(msg dbus.Message, n string) error { return s.imageNotYet(msg, n, "set image limit") })(msg)
		}),
		"GetHostname":    newMethod(onImage(s, s.getImageHostname)),
		"GetMachineID":   newMethod(onImage(s, s.getImageMachineID)),
		"GetMachineInfo": newMethod(onImage(s, s.getImageMachineInfo)),
		"GetOSRelease":   newMethod(onImage(s, s.getImageOSRelease)),
	}
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
