package netwatch

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestResolvConfDNS(t *testing.T) {
	dir := t.TempDir()
	stub := filepath.Join(dir, "stub")
	real := filepath.Join(dir, "real")
	_ = os.WriteFile(stub, []byte("nameserver 127.0.0.53\noptions edns0\n"), 0o644)
	_ = os.WriteFile(real, []byte("# c\nnameserver 192.0.2.53\nnameserver fe80::1\nnameserver bogus\nsearch x\nnameserver 198.51.100.53\n"), 0o644)
	tests := []struct {
		name  string
		paths []string
		want  []netip.Addr
	}{
		{"stub then real", []string{stub, real}, []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("198.51.100.53")}},
		{"only stub", []string{stub}, nil},
		{"missing", []string{filepath.Join(dir, "none")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ResolvConfDNS(tt.paths...), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Fatalf("-want +got:\n%s", diff)
			}
		})
	}
}
