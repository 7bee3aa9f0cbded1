package nspawnopts

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/signame"
)

// SigRTMin is the first real-time signal number as the C library reports
// it (glibc reserves 32 and 33), which is what "SIGRTMIN+N" means to nspawn.
const SigRTMin = signame.RTMin

var (
	resolvConfModes = []string{"off", "auto", "delete", "copy-host", "copy-static", "copy-uplink",
		"copy-stub", "replace-host", "replace-static", "replace-uplink", "replace-stub",
		"bind-host", "bind-static", "bind-uplink", "bind-stub"}
	timezoneModes    = []string{"off", "auto", "copy", "bind", "symlink", "delete"}
	linkJournalModes = []string{"no", "auto", "host", "guest", "try-host", "try-guest"}
)

// modes validates the enumerated modes and their combinations.
func (r *raw) modes(c *Config) error {
	if err := r.volatileMode(c); err != nil {
		return err
	}
	c.ResolvConf, c.Timezone, c.LinkJournal = r.resolvConf, r.timezone, r.linkJournal
	if r.journalTryGuest {
		c.LinkJournal = "try-guest"
	}
	for _, m := range []struct {
		opt, val string
		ok       []string
	}{
		{"--resolv-conf", c.ResolvConf, resolvConfModes},
		{"--timezone", c.Timezone, timezoneModes},
		{"--link-journal", c.LinkJournal, linkJournalModes},
	} {
		if !slices.Contains(m.ok, m.val) {
			return fmt.Errorf("invalid %s= mode %q", m.opt, m.val)
		}
	}
	if c.Ephemeral && (c.LinkJournal == "host" || c.LinkJournal == "guest") {
		return errors.New("--ephemeral cannot be combined with --link-journal=host or guest")
	}
	if c.Ephemeral && c.Volatile != VolatileNo {
		return errors.New("--ephemeral and --volatile= may not be combined")
	}
	return nil
}

func (r *raw) volatileMode(c *Config) error {
	switch v := strings.ToLower(r.volatile); v {
	case VolatileYes, VolatileNo, VolatileState, VolatileOverlay:
		c.Volatile = v
	default:
		b, err := parseBool("--volatile", v)
		if err != nil {
			return fmt.Errorf("invalid --volatile= mode %q", r.volatile)
		}
		c.Volatile = map[bool]string{true: VolatileYes, false: VolatileNo}[b]
	}
	return nil
}
