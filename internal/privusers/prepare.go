package privusers

import (
	"errors"
	"fmt"
	"os"

	"github.com/berth-dev/berth/internal/chownshift"
	"github.com/berth-dev/berth/internal/idmap"
	"github.com/berth-dev/berth/internal/paths"
	"github.com/berth-dev/berth/internal/uidrange"
)

// Config is what Prepare needs to know about a machine.
type Config struct {
	// Paths locate the range locks and records.
	Paths paths.Paths
	// Machine is the machine name (ranges are remembered per name).
	Machine string
	// Root is the image directory.
	Root string
	// Users and Ownership are the parsed options.
	Users     Users
	Ownership Ownership
	// ReadOnly and Volatile forbid chown.
	ReadOnly, Volatile bool
	// Progress, if set, receives chown progress.
	Progress func(chownshift.Progress)
	// Carrier, if set, is a user namespace started early (MayMap) that
	// Prepare maps for the idmapped root instead of creating one; the
	// caller closes it after Prepare in any case.
	Carrier *idmap.Carrier
}

// Prepared is a machine's user namespace setup, ready for the spawner.
// Release it when the machine has exited.
type Prepared struct {
	// Range is the host range the machine's IDs 0..Range.Size-1 map to;
	// Size 0 means no user namespace.
	Range uidrange.Range
	// Ownership is what was done to the image: Off, Chown or Map.
	Ownership Ownership
	// Reason says why (the choice of auto is reported).
	Reason string
	// Shift is the chown result (Ownership Chown).
	Shift chownshift.Result

	root  string
	disk  uint32 // the shift of the image on disk
	lease *uidrange.Lease
	ns    *idmap.UserNS
}

// Prepare validates cfg, takes the machine's UID range, and brings the
// image's ownership in line with it: chowned (resumably, completing an
// interrupted shift) or prepared for an idmapped root mount. Needs root.
func Prepare(cfg Config) (*Prepared, error) {
	if err := Validate(cfg.Users, cfg.Ownership, cfg.ReadOnly, cfg.Volatile); err != nil {
		return nil, err
	}
	if cfg.Users.Mode == ModeNo {
		return &Prepared{Ownership: OwnershipOff, Reason: "no user namespace"}, nil
	}
	st, err := chownshift.Detect(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("prepare user namespace: %w", err)
	}
	p := &Prepared{root: cfg.Root, disk: st.Shift}
	if err := p.takeRange(cfg, st); err != nil {
		return nil, fmt.Errorf("prepare user namespace: %w", err)
	}
	if err := p.applyOwnership(cfg, st); err != nil {
		p.Release()
		return nil, fmt.Errorf("prepare user namespace: %w", err)
	}
	return p, nil
}

// takeRange sets p.Range (and p.lease) for the mode of cfg.
func (p *Prepared) takeRange(cfg Config, st chownshift.State) error {
	a := uidrange.New(cfg.Paths)
	var err error
	switch u := cfg.Users; u.Mode {
	case ModeIdentity:
		p.Range = uidrange.Range{Base: 0, Size: u.Range}
	case ModeYes:
		if st.Busy {
			return fmt.Errorf("%w: %s has an interrupted ownership shift; use --private-users=pick or N to complete it", ErrInvalid, cfg.Root)
		}
		p.Range = uidrange.Range{Base: st.Shift, Size: RangeSize}
		if st.Shift != 0 {
			p.lease, err = a.Reserve(cfg.Machine, p.Range)
		}
	case ModeFixed:
		p.Range = uidrange.Range{Base: u.Shift, Size: u.Range}
		if u.Shift != 0 {
			p.lease, err = a.Reserve(cfg.Machine, p.Range)
		}
	case ModePick:
		p.lease, err = pick(a, cfg.Machine, st)
		if err == nil {
			p.Range = p.lease.Range
		}
	}
	return err
}

// pick prefers the image's own shift (so a chowned image is not chowned
// again), then the allocator's choice.
func pick(a *uidrange.Allocator, machine string, st chownshift.State) (*uidrange.Lease, error) {
	if !st.Busy && st.Shift >= uidrange.MinBase && st.Shift <= uidrange.MaxBase {
		l, err := a.Reserve(machine, uidrange.Range{Base: st.Shift, Size: RangeSize})
		if !errors.Is(err, uidrange.ErrBusy) {
			return l, err
		}
	}
	return a.Acquire(machine)
}

// applyOwnership decides and carries out the ownership mode.
func (p *Prepared) applyOwnership(cfg Config, st chownshift.State) error {
	eff := Effective(cfg.Users, cfg.Ownership)
	var probe error
	if eff == OwnershipMap || (eff == OwnershipAuto && !st.Busy && st.Shift != p.Range.Base) {
		ns, err := rootUserNS(cfg.Carrier, p.rootMappings())
		if err != nil {
			return err
		}
		p.ns = ns
		probe = idmap.Supported(cfg.Root, ns)
	}
	var err error
	p.Ownership, p.Reason, err = decide(eff, st, p.Range, probe)
	if err != nil {
		return err
	}
	if p.Ownership != OwnershipMap && p.ns != nil {
		p.ns.Close()
		p.ns = nil
	}
	if p.Ownership == OwnershipChown {
		p.Shift, err = chownshift.Shift(cfg.Root, p.Range.Base, chownshift.Options{Progress: cfg.Progress})
		p.disk = p.Range.Base
	}
	return err
}

// rootUserNS returns the namespace of the idmapped root: the early carrier
// mapped, or a new one.
func rootUserNS(c *idmap.Carrier, m []idmap.Mapping) (*idmap.UserNS, error) {
	if c == nil {
		return idmap.NewUserNS(m, m)
	}
	return c.Map(m, m)
}

// MayMap guesses, before Prepare, whether it will need a user namespace
// for an idmapped root of root, so that a spawner can start its carrier
// (idmap.StartCarrier) while it does other work. A wrong guess costs time,
// never correctness.
func MayMap(u Users, o Ownership, root string) bool {
	switch eff := Effective(u, o); {
	case u.Mode == ModeNo || eff == OwnershipOff || eff == OwnershipChown:
		return false
	case eff == OwnershipMap:
		return true
	}
	st, err := chownshift.Detect(root)
	if err != nil || st.Busy {
		return false
	}
	switch u.Mode {
	case ModePick: // a shifted image gets its own range back
		return st.Shift < uidrange.MinBase || st.Shift > uidrange.MaxBase
	case ModeFixed:
		return st.Shift != u.Shift
	case ModeIdentity:
		return st.Shift != 0
	}
	return false // yes: the range is the image's
}

// decide picks the ownership mode: eff as given, with auto resolved from
// the image's state and the idmap probe result (nil: supported).
func decide(eff Ownership, st chownshift.State, r uidrange.Range, probe error) (Ownership, string, error) {
	switch {
	case eff == OwnershipOff:
		return OwnershipOff, "ownership left alone", nil
	case eff == OwnershipChown:
		return OwnershipChown, "chown requested", nil
	case st.Busy && eff == OwnershipMap:
		return 0, "", fmt.Errorf("%w: the image has an interrupted ownership shift; complete it with --private-users-ownership=chown", ErrInvalid)
	case st.Busy:
		return OwnershipChown, "completing an interrupted ownership shift", nil
	case st.Shift == r.Base:
		return OwnershipOff, "image already owned by the range", nil
	case eff == OwnershipMap && probe != nil:
		return 0, "", probe
	case eff == OwnershipMap:
		return OwnershipMap, "map requested", nil
	case st.Shift != 0:
		return OwnershipChown, "image is shifted to another range", nil
	case probe != nil:
		return OwnershipChown, "no idmapped mounts here: " + probe.Error(), nil
	}
	return OwnershipMap, "file system supports idmapped mounts", nil
}

// rootMappings maps the image's on-disk IDs onto the range.
func (p *Prepared) rootMappings() []idmap.Mapping {
	return []idmap.Mapping{{Inner: p.disk, Outer: p.Range.Base, Size: p.Range.Size}}
}

// Mappings returns the uid_map (and gid_map) of the machine's user
// namespace: its IDs 0..Size-1 on the range. Nil without a user namespace.
func (p *Prepared) Mappings() []idmap.Mapping {
	if p.Range.Size == 0 {
		return nil
	}
	return []idmap.Mapping{{Inner: 0, Outer: p.Range.Base, Size: p.Range.Size}}
}

// RootTree returns a detached clone of the image, idmapped onto the range
// (Ownership Map only), for a spawner that attaches it in the machine's
// mount namespace (idmap.Tree.Attach there, the File passed across exec).
// The caller closes it.
func (p *Prepared) RootTree() (*idmap.Tree, error) {
	if p.ns == nil {
		return nil, fmt.Errorf("root tree: %w: ownership is %s, not map", ErrInvalid, p.Ownership)
	}
	return idmap.IdmappedClone(p.root, p.ns, false)
}

// MountRoot attaches the image on target in the caller's mount namespace,
// idmapped onto the range (Ownership Map only); with the other modes the
// spawner bind-mounts the image itself.
func (p *Prepared) MountRoot(target string) error {
	t, err := p.RootTree()
	if err != nil {
		return err
	}
	defer t.Close()
	return t.Attach(target)
}

// MountBind attaches src on target with the mapping b asks for (a plain
// bind is the caller's; BindPlain is an error here).
func (p *Prepared) MountBind(src, target string, b idmap.Bind) error {
	t, err := p.BindTree(src, b, false)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := t.Attach(target); err != nil {
		return fmt.Errorf("mount bind %s: %w", src, err)
	}
	return nil
}

// BindTree returns a detached clone of src (with its submounts when
// recursive) idmapped as b asks: rootidmap takes src's owner as root.
// BindPlain is an error. The caller attaches and closes it.
func (p *Prepared) BindTree(src string, b idmap.Bind, recursive bool) (*idmap.Tree, error) {
	gb := b
	if b.Kind == idmap.BindRootIdmap {
		st, err := os.Stat(src)
		if err != nil {
			return nil, fmt.Errorf("bind %s: %w", src, err)
		}
		b.Owner, gb.Owner = ownerOf(st)
	}
	uids, err := idmap.BindMappings(p.Range, b)
	if err != nil || uids == nil {
		return nil, fmt.Errorf("bind %s: %w: needs an idmapped bind kind", src, errors.Join(err, ErrInvalid))
	}
	gids, err := idmap.BindMappings(p.Range, gb)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", src, err)
	}
	ns, err := idmap.NewUserNS(uids, gids)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", src, err)
	}
	defer ns.Close()
	t, err := idmap.IdmappedClone(src, ns, recursive)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", src, err)
	}
	return t, nil
}

// Release frees the range (its record stays for the next start) and the
// namespace fd. Call it when the machine has exited.
func (p *Prepared) Release() error {
	var errs []error
	if p.ns != nil {
		errs = append(errs, p.ns.Close())
		p.ns = nil
	}
	if p.lease != nil {
		errs = append(errs, p.lease.Release())
		p.lease = nil
	}
	return errors.Join(errs...)
}
