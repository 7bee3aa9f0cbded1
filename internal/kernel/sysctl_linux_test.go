//go:build linux

package kernel

import (
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
)

// TestIntegrationSysctl writes and reads back a setting of a throwaway
// network namespace; a missing one is fs.ErrNotExist naming the file.
func TestIntegrationSysctl(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	err := ns.Do(func() error {
		for _, v := range []string{"1", "0"} {
			if err := WriteSysctl("net/ipv4/ip_forward", v); err != nil {
				return err
			}
			if got, err := ReadSysctl("net/ipv4/ip_forward"); err != nil || got != v {
				t.Errorf("ReadSysctl after writing %s = %q, %v", v, got, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = WriteSysctl("net/ipv4/conf/no-such-link/forwarding", "1")
	var pe *os.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != "/proc/sys/net/ipv4/conf/no-such-link/forwarding" {
		t.Fatalf("WriteSysctl of a missing setting: %v", err)
	}
	if _, err := ReadSysctl("net/ipv4/conf/no-such-link/forwarding"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadSysctl of a missing setting: %v", err)
	}
}
