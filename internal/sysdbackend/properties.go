package sysdbackend

import (
	"math"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/unitgen"
)

// exitStatus is the (aiai) D-Bus form of SuccessExitStatus= and
// RestartForceExitStatus=: exit codes, then signals.
type exitStatus struct {
	Codes   []int32
	Signals []int32
}

// deviceAllow is one (ss) entry of DeviceAllow=.
type deviceAllow struct {
	Path, Perm string
}

// execCommand is one (sasb) entry of ExecStart=.
type execCommand struct {
	Path          string
	Args          []string
	IgnoreFailure bool
}

func prop(name string, v any) sdbus.Property {
	return sdbus.Property{Name: name, Value: dbus.MakeVariant(v)}
}

// usec converts a timeout; 0 (no timeout) is systemd's infinity.
func usec(d time.Duration) uint64 {
	if d == 0 {
		return math.MaxUint64
	}
	return uint64(d.Microseconds())
}

func exitStatusOf(es unitgen.ExitStatus) exitStatus {
	out := exitStatus{Codes: []int32{}, Signals: []int32{}}
	for _, c := range es.Codes {
		out.Codes = append(out.Codes, int32(c))
	}
	for _, s := range es.Signals {
		out.Signals = append(out.Signals, int32(s))
	}
	return out
}

// Properties returns the StartTransientUnit properties of u. Failed
// transient units are garbage-collected (CollectMode=inactive-or-failed),
// so a machine that failed can be started again under the same name.
func Properties(u unitgen.Unit) []sdbus.Property {
	ps := []sdbus.Property{
		prop("Description", u.Description),
		prop("CollectMode", "inactive-or-failed"),
		prop("Type", u.Type),
		prop("ExecStart", []execCommand{{Path: u.ExecStart[0], Args: u.ExecStart}}),
		prop("KillMode", u.KillMode),
		prop("KillSignal", int32(u.KillSignal)),
		prop("TimeoutStartUSec", usec(u.TimeoutStart)),
		prop("TimeoutStopUSec", usec(u.TimeoutStop)),
		prop("SuccessExitStatus", exitStatusOf(u.SuccessExitStatus)),
		prop("RestartForceExitStatus", exitStatusOf(u.RestartForceExitStatus)),
		prop("Delegate", u.Delegate),
	}
	for _, l := range []struct {
		name string
		v    []string
	}{
		{"Documentation", u.Documentation}, {"Wants", u.Wants}, {"After", u.After}, {"Before", u.Before},
		{"PartOf", u.PartOf}, {"Requires", u.Requires}, {"RequiresMountsFor", u.RequiresMountsFor},
		{"Environment", u.Environment},
	} {
		if len(l.v) > 0 {
			ps = append(ps, prop(l.name, l.v))
		}
	}
	if u.Slice != "" {
		ps = append(ps, prop("Slice", u.Slice))
	}
	return append(ps, cgroupProperties(u)...)
}

func cgroupProperties(u unitgen.Unit) []sdbus.Property {
	var ps []sdbus.Property
	if u.DevicePolicy != "" {
		ps = append(ps, prop("DevicePolicy", u.DevicePolicy))
	}
	if len(u.DeviceAllow) > 0 {
		var da []deviceAllow
		for _, d := range u.DeviceAllow {
			da = append(da, deviceAllow{d.Path, d.Perm})
		}
		ps = append(ps, prop("DeviceAllow", da))
	}
	l := u.Limits
	for _, v := range []struct {
		name string
		v    uint64
	}{
		{"MemoryMax", l.MemoryMax}, {"TasksMax", l.TasksMax}, {"CPUWeight", l.CPUWeight}, {"IOWeight", l.IOWeight},
		// CPUQuota=100% is one second of CPU time per second.
		{"CPUQuotaPerSecUSec", l.CPUQuota * 10000},
	} {
		if v.v != 0 {
			ps = append(ps, prop(v.name, v.v))
		}
	}
	return ps
}
