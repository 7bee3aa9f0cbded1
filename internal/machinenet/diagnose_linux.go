package machinenet

import (
	"fmt"

	"github.com/berth-dev/berth/internal/netdiag"
	"github.com/berth-dev/berth/internal/rtnl"
)

// Diagnose returns the findings on each of the machine's host-side
// interfaces (given by index); a machine with no interfaces gets one
// netdiag.NoLink finding.
func (s *Service) Diagnose(ifindices []int32) ([]netdiag.Finding, error) {
	if len(ifindices) == 0 {
		return []netdiag.Finding{{Code: netdiag.NoLink,
			Message: "the machine was registered with no host-side network interface: it shares the host's network or was started without -n"}}, nil
	}
	h, err := rtnl.Open()
	if err != nil {
		return nil, fmt.Errorf("diagnose network: %w", err)
	}
	defer h.Close()
	var out []netdiag.Finding
	for _, i := range ifindices {
		l, err := h.LinkByIndex(int(i))
		if err != nil {
			out = append(out, netdiag.Finding{Code: netdiag.NoLink, Message: fmt.Sprintf("interface %d is gone: the machine's veth was removed", i)})
			continue
		}
		f, err := netdiag.Gather(s.cfg.Watcher, l.Name, netdiag.Options{RunDir: s.cfg.RunDir})
		if err != nil {
			return nil, fmt.Errorf("diagnose network: %w", err)
		}
		out = append(out, netdiag.Diagnose(f)...)
	}
	return out, nil
}
