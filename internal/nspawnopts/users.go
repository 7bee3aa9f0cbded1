package nspawnopts

import (
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/idmap"
	"github.com/berth-dev/berth/internal/privusers"
)

// usersFlags holds the raw user namespace options.
type usersFlags struct {
	flagU, chown     bool
	users, ownership string
}

// privateUsers validates the user namespace options against the rest of
// the configuration (binds, --read-only, --volatile).
func (u *usersFlags) privateUsers(c *Config) error {
	var err error
	switch {
	case u.users != "":
		if c.PrivateUsers, err = privusers.ParseUsers(u.users); err != nil {
			return err
		}
	case u.flagU:
		c.PrivateUsers = privusers.FlagU(privusers.KernelHasUserNS())
	}
	switch {
	case u.ownership != "":
		if c.PrivateUsersOwnership, err = privusers.ParseOwnership(u.ownership); err != nil {
			return err
		}
	case u.chown:
		c.PrivateUsersOwnership = privusers.OwnershipChown
	}
	volatile := c.Volatile != VolatileNo || c.Ephemeral
	if err := privusers.Validate(c.PrivateUsers, c.PrivateUsersOwnership, c.ReadOnly, volatile); err != nil {
		return err
	}
	return u.checkBinds(c)
}

// checkBinds refuses idmapped binds without a user namespace.
func (u *usersFlags) checkBinds(c *Config) error {
	if c.PrivateUsers.Mode != privusers.ModeNo {
		return nil
	}
	for _, b := range c.Binds {
		if b.IDMap.Kind != idmap.BindPlain {
			return fmt.Errorf("bind mount %s: idmap options need a user namespace (--private-users=)", b.Dest)
		}
	}
	return nil
}

// bindIDMap parses one bind option about ID mapping; ok is false for other
// options.
func (b *Bind) bindIDMap(opt string) (bool, error) {
	m, ok, err := privusers.ParseBindOption(opt)
	if !ok || err != nil {
		return ok, err
	}
	if b.Source == "" && m.Kind != idmap.BindPlain {
		return true, errors.New("a temporary directory cannot be idmapped")
	}
	b.IDMap = m
	return true, nil
}
