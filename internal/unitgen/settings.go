package unitgen

import (
	"fmt"
	"strings"
	"time"
)

func (g *gen) kill() error {
	g.u.KillMode = "control-group"
	if m, ok := g.f.Value("Service", "KillMode"); ok {
		if m != "control-group" && m != "mixed" && m != "process" {
			return fmt.Errorf("%w: KillMode=%s is not supported", ErrTemplate, m)
		}
		g.u.KillMode = m
	}
	g.u.KillSignal = 15
	if v, ok := g.f.Value("Service", "KillSignal"); ok {
		sig, err := ParseSignal(v)
		if err != nil {
			return err
		}
		g.u.KillSignal = sig
	}
	var err error
	if g.u.TimeoutStop, err = g.timespan("TimeoutStopSec", DefaultTimeoutStop); err != nil {
		return err
	}
	if g.u.TimeoutStart, err = g.timespan("TimeoutStartSec", DefaultTimeoutStart); err != nil {
		return err
	}
	if g.u.SuccessExitStatus, err = parseExitStatus(g.f.Values("Service", "SuccessExitStatus")); err != nil {
		return err
	}
	g.u.RestartForceExitStatus, err = parseExitStatus(g.f.Values("Service", "RestartForceExitStatus"))
	return err
}

func (g *gen) timespan(key string, def time.Duration) (time.Duration, error) {
	v, ok := g.f.Value("Service", key)
	if !ok {
		return def, nil
	}
	return parseTimespan(v)
}

func (g *gen) cgroup() error {
	slice, _, err := g.value("Service", "Slice")
	if err != nil {
		return err
	}
	if slice != "" && (!strings.HasSuffix(slice, ".slice") || strings.ContainsAny(slice, "/ ")) {
		return fmt.Errorf("%w: Slice=%s is not a slice unit name", ErrTemplate, slice)
	}
	g.u.Slice = slice
	if v, ok := g.f.Value("Service", "Delegate"); ok {
		if g.u.Delegate, err = parseBool(v); err != nil {
			return err
		}
	}
	if p, ok := g.f.Value("Service", "DevicePolicy"); ok {
		if p != "auto" && p != "closed" && p != "strict" {
			return fmt.Errorf("%w: DevicePolicy=%s", ErrTemplate, p)
		}
		g.u.DevicePolicy = p
	}
	for _, v := range g.f.Values("Service", "DeviceAllow") {
		d, err := g.deviceAllow(v)
		if err != nil {
			return err
		}
		g.u.DeviceAllow = append(g.u.DeviceAllow, d)
	}
	return nil
}

func (g *gen) deviceAllow(v string) (DeviceAllow, error) {
	path, perm, _ := strings.Cut(v, " ")
	perm = strings.TrimSpace(perm)
	if perm == "" {
		perm = "rwm"
	}
	if strings.Trim(perm, "rwm") != "" {
		return DeviceAllow{}, fmt.Errorf("%w: DeviceAllow=%s: bad permissions", ErrTemplate, v)
	}
	path, err := expand(path, g.spec)
	if err != nil {
		return DeviceAllow{}, err
	}
	if !strings.HasPrefix(path, "/dev/") && !strings.HasPrefix(path, "char-") && !strings.HasPrefix(path, "block-") {
		return DeviceAllow{}, fmt.Errorf("%w: DeviceAllow=%s: not a device", ErrTemplate, v)
	}
	return DeviceAllow{Path: path, Perm: perm}, nil
}

func (g *gen) limits() error {
	for key, parse := range map[string]struct {
		dst *uint64
		fn  func(string) (uint64, error)
	}{
		"MemoryMax": {&g.u.Limits.MemoryMax, parseLimit},
		"TasksMax":  {&g.u.Limits.TasksMax, parseLimit},
		"CPUQuota":  {&g.u.Limits.CPUQuota, parsePercent},
		"CPUWeight": {&g.u.Limits.CPUWeight, parseWeight},
		"IOWeight":  {&g.u.Limits.IOWeight, parseWeight},
	} {
		v, ok := g.f.Value("Service", key)
		if !ok {
			continue
		}
		n, err := parse.fn(v)
		if err != nil {
			return fmt.Errorf("%s=: %w", key, err)
		}
		*parse.dst = n
	}
	return nil
}

// fold applies the machine's settings over the template's values.
func (u *Unit) fold(s Settings) error {
	if err := s.Limits.valid(); err != nil {
		return err
	}
	for _, l := range []struct {
		dst *uint64
		v   uint64
	}{
		{&u.Limits.MemoryMax, s.Limits.MemoryMax}, {&u.Limits.CPUQuota, s.Limits.CPUQuota},
		{&u.Limits.CPUWeight, s.Limits.CPUWeight}, {&u.Limits.TasksMax, s.Limits.TasksMax},
		{&u.Limits.IOWeight, s.Limits.IOWeight},
	} {
		if l.v != 0 {
			*l.dst = l.v
		}
	}
	if s.KillSignal != 0 {
		u.KillSignal = s.KillSignal
	}
	if s.TimeoutStop != 0 {
		u.TimeoutStop = s.TimeoutStop
	}
	if err := validEnv(s.Environment); err != nil {
		return fmt.Errorf("%w: %w", ErrSettings, err)
	}
	u.Environment = append(u.Environment, s.Environment...)
	if s.GuestStopSignal != 0 {
		u.ExecStart = append(u.ExecStart, "--kill-signal="+SignalName(s.GuestStopSignal))
	}
	return nil
}

func (l Limits) valid() error {
	for _, w := range []uint64{l.CPUWeight, l.IOWeight} {
		if w > 10000 {
			return fmt.Errorf("%w: weight %d is not in 1..10000", ErrSettings, w)
		}
	}
	return nil
}
