package machine1

import (
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/lifecycle"
)

// settingKey is one key of GetMachineSettings/SetMachineSettings: its
// bus type, and how it reads and writes lifecycle.Settings.
type settingKey struct {
	get func(s lifecycle.Settings) any
	set func(s *lifecycle.Settings, v any)
	// zero is a value of the key's bus type.
	zero any
}

func uintKey(field func(s *lifecycle.Settings) *uint64) settingKey {
	return settingKey{
		get:  func(s lifecycle.Settings) any { return *field(&s) },
		set:  func(s *lifecycle.Settings, v any) { *field(s) = v.(uint64) },
		zero: uint64(0),
	}
}

func signalKey(field func(s *lifecycle.Settings) *unix.Signal) settingKey {
	return settingKey{
		get:  func(s lifecycle.Settings) any { return int32(*field(&s)) },
		set:  func(s *lifecycle.Settings, v any) { *field(s) = unix.Signal(v.(int32)) },
		zero: int32(0),
	}
}

// settingKeys are the documented keys (dbus-interfaces/dev.berth.Manager1.xml).
var settingKeys = map[string]settingKey{
	"MemoryMax": uintKey(func(s *lifecycle.Settings) *uint64 { return &s.Limits.MemoryMax }),
	"CPUQuota":  uintKey(func(s *lifecycle.Settings) *uint64 { return &s.Limits.CPUQuota }),
	"CPUWeight": uintKey(func(s *lifecycle.Settings) *uint64 { return &s.Limits.CPUWeight }),
	"TasksMax":  uintKey(func(s *lifecycle.Settings) *uint64 { return &s.Limits.TasksMax }),
	"IOWeight":  uintKey(func(s *lifecycle.Settings) *uint64 { return &s.Limits.IOWeight }),
	"TimeoutStopUSec": {
		get:  func(s lifecycle.Settings) any { return uint64(s.TimeoutStop / time.Microsecond) },
		set:  func(s *lifecycle.Settings, v any) { s.TimeoutStop = time.Duration(v.(uint64)) * time.Microsecond },
		zero: uint64(0),
	},
	"KillSignal":     signalKey(func(s *lifecycle.Settings) *unix.Signal { return &s.KillSignal }),
	"PowerOffSignal": signalKey(func(s *lifecycle.Settings) *unix.Signal { return &s.PowerOffSignal }),
	"RebootSignal":   signalKey(func(s *lifecycle.Settings) *unix.Signal { return &s.RebootSignal }),
	"Environment": {
		get:  func(s lifecycle.Settings) any { return append([]string{}, s.Environment...) },
		set:  func(s *lifecycle.Settings, v any) { s.Environment = v.([]string) },
		zero: []string{},
	},
}

// maxTimeoutStopUSec keeps TimeoutStopUSec within a time.Duration.
const maxTimeoutStopUSec = uint64(1<<63-1) / uint64(time.Microsecond)

// settingsToBus returns every key of s.
func settingsToBus(s lifecycle.Settings) map[string]dbus.Variant {
	out := make(map[string]dbus.Variant, len(settingKeys))
	for name, k := range settingKeys {
		out[name] = dbus.MakeVariant(k.get(s))
	}
	return out
}

// applySettings returns s with changes applied. Keys left out keep their
// values; a zero value returns a key to the template's default. An
// unknown key or a value of the wrong type is errInvalidArgs; the values
// themselves are checked by the lifecycle when it saves them.
func applySettings(s lifecycle.Settings, changes map[string]dbus.Variant) (lifecycle.Settings, error) {
	for name, v := range changes {
		k, ok := settingKeys[name]
		if !ok {
			return s, fmt.Errorf("unknown setting %q: %w", name, errInvalidArgs)
		}
		if v.Signature() != dbus.SignatureOf(k.zero) {
			return s, fmt.Errorf("setting %s has type %q, want %q: %w", name, v.Signature(), dbus.SignatureOf(k.zero), errInvalidArgs)
		}
		if name == "TimeoutStopUSec" && v.Value().(uint64) > maxTimeoutStopUSec {
			return s, fmt.Errorf("setting %s is too large: %w", name, errInvalidArgs)
		}
		k.set(&s, v.Value())
	}
	return s, nil
}
