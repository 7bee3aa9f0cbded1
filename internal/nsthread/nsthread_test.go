package nsthread

import (
	"net"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
)

func TestIntegrationDo(t *testing.T) {
	testbed.RequireRoot(t)
	ns := testbed.NewNetNS(t)
	ns.Exec(t, "ip", "link", "add", "nsthread0", "type", "veth", "peer", "name", "nsthread1")
	var names []string
	err := Do(ns.Path, func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 3 {
		t.Fatalf("interfaces in the namespace: %v", names)
	}
	if err := Do("/nonexistent", func() error { return nil }); err == nil {
		t.Fatal("Do with a bad path succeeded")
	}
}
