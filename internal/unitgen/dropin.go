package unitgen

import (
	"fmt"
	"strconv"

	"github.com/berth-dev/berth/internal/unitfile"
)

// DropIn renders the parts of s a drop-in for the boot unit
// (berth-nspawn@NAME.service.d/) can carry: limits, kill signal, stop
// timeout and environment. GuestStopSignal cannot be expressed without
// restating the whole ExecStart=; set it in the machine's .nspawn file
// (KillSignal=) for boot-time starts. Host is ignored.
func DropIn(s Settings) ([]byte, error) {
	if err := s.Limits.valid(); err != nil {
		return nil, fmt.Errorf("drop-in: %w", err)
	}
	if err := validEnv(s.Environment); err != nil {
		return nil, fmt.Errorf("drop-in: %w: %w", ErrSettings, err)
	}
	f := &unitfile.File{Sections: []unitfile.Section{{Name: "Service"}}}
	add := func(k, v string) { _ = f.Add("Service", k, v) } // keys are constants, values one word
	for _, l := range []struct {
		key string
		v   uint64
		fmt func(uint64) string
	}{
		{"MemoryMax", s.Limits.MemoryMax, limitString}, {"CPUQuota", s.Limits.CPUQuota, percentString},
		{"CPUWeight", s.Limits.CPUWeight, limitString}, {"TasksMax", s.Limits.TasksMax, limitString},
		{"IOWeight", s.Limits.IOWeight, limitString},
	} {
		if l.v != 0 {
			add(l.key, l.fmt(l.v))
		}
	}
	if s.KillSignal != 0 {
		add("KillSignal", SignalName(s.KillSignal))
	}
	if s.TimeoutStop != 0 {
		add("TimeoutStopSec", strconv.FormatInt(s.TimeoutStop.Milliseconds(), 10)+"ms")
	}
	for _, e := range s.Environment {
		if err := f.Add("Service", "Environment", strconv.Quote(e)); err != nil {
			return nil, fmt.Errorf("drop-in: %w: %w", ErrSettings, err)
		}
	}
	return append([]byte("# Written by berth: this machine's own settings.\n"), f.Bytes()...), nil
}

func limitString(v uint64) string {
	if v == Infinity {
		return "infinity"
	}
	return strconv.FormatUint(v, 10)
}

func percentString(v uint64) string { return strconv.FormatUint(v, 10) + "%" }
