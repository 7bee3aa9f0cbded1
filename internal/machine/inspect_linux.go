//go:build linux

package machine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/imagefiles"
	"github.com/berth-dev/berth/internal/rtnl"
)

// Address is one IP address of a machine: an AF_INET or AF_INET6 family
// and the address bytes.
type Address struct {
	Family int32
	IP     []byte
}

// Addresses returns the machine's global and site-scope addresses, read
// inside its network namespace, as machined's GetAddresses does.
func (r *Registry) Addresses(name string) ([]Address, error) {
	if name == HostName {
		h, err := rtnl.Open()
		if err != nil {
			return nil, fmt.Errorf("get addresses: %w", err)
		}
		defer h.Close()
		return addressesOf(h)
	}
	e, err := r.inspectable(name)
	if err != nil {
		return nil, fmt.Errorf("get addresses: %w", err)
	}
	ns, err := e.leader.nsInode("net")
	if err != nil {
		return nil, fmt.Errorf("get addresses: %w", err)
	}
	if ns == r.hostNetNS {
		return nil, fmt.Errorf("machine %q: %w", name, ErrNoPrivateNetworking)
	}
	f, err := e.leader.openProc("ns/net", unix.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("get addresses: %w", err)
	}
	defer f.Close()
	h, err := rtnl.OpenIn(int(f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("get addresses: %w", err)
	}
	defer h.Close()
	return addressesOf(h)
}

func addressesOf(h *rtnl.Conn) ([]Address, error) {
	list, err := h.Addrs(unix.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("get addresses: %w", err)
	}
	out := []Address{}
	for _, a := range list {
		if a.Scope >= unix.RT_SCOPE_LINK || a.Flags&unix.IFA_F_DEPRECATED != 0 {
			continue
		}
		family := int32(unix.AF_INET6)
		if a.Is4() {
			family = unix.AF_INET
		}
		out = append(out, Address{Family: family, IP: a.IP})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Family < out[j].Family })
	return out, nil
}

// inspectable returns a registered container (not the host, not a VM).
func (r *Registry) inspectable(name string) (*entry, error) {
	e, err := r.lookup(name)
	if err != nil {
		return nil, err
	}
	if e.class() != ClassContainer {
		return nil, fmt.Errorf("machine %q of class %q: %w", name, e.class(), ErrNotSupported)
	}
	return e, nil
}

// OSRelease returns the machine's os-release, read inside its root
// (/proc/LEADER/root) without following any symlink out of it.
func (r *Registry) OSRelease(name string) (map[string]string, error) {
	if name == HostName {
		host, err := imagefiles.Open("/")
		if err != nil {
			return nil, fmt.Errorf("get os-release: %w", err)
		}
		defer host.Close()
		return host.OSRelease()
	}
	e, err := r.inspectable(name)
	if err != nil {
		return nil, fmt.Errorf("get os-release: %w", err)
	}
	root, err := e.leader.openProc("root", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, fmt.Errorf("get os-release: %w", err)
	}
	img := imagefiles.FromFile(root)
	defer img.Close()
	return img.OSRelease()
}

// idMap reads the leader's uid_map or gid_map; nil without user namespaces.
func (e *entry) idMap(file string) ([]IDRange, error) {
	f, err := e.leader.openProc(file, unix.O_RDONLY)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMapSize+1))
	if err != nil {
		return nil, err
	}
	return ParseIDMap(data)
}

// UIDShift returns the machine's UID shift: 0 for the host and for
// containers without user namespace, the base of a simple mapping, else
// ErrNotSupported.
func (r *Registry) UIDShift(name string) (uint32, error) {
	if name == HostName {
		return 0, nil
	}
	e, err := r.inspectable(name)
	if err != nil {
		return 0, fmt.Errorf("get UID shift: %w", err)
	}
	uids, err := e.idMap("uid_map")
	if err != nil || uids == nil {
		return 0, err
	}
	gids, err := e.idMap("gid_map")
	if err != nil {
		return 0, fmt.Errorf("get UID shift: %w", err)
	}
	us, err := Shift(uids)
	if err != nil {
		return 0, fmt.Errorf("get UID shift: %w", err)
	}
	if gs, err := Shift(gids); err != nil || gs != us || gids[0].Count != uids[0].Count {
		return 0, fmt.Errorf("get UID shift: UID and GID mappings differ: %w", ErrNotSupported)
	}
	return us, nil
}
