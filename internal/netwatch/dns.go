package netwatch

import (
	"bufio"
	"net/netip"
	"os"
	"strings"
)

// ResolvConfDNS returns the nameservers of the first of paths that names
// any a container can reach: loopback and link-local servers (such as
// systemd-resolved's stub 127.0.0.53) are skipped. On a real host the
// paths are /etc/resolv.conf and then /run/systemd/resolve/resolv.conf
// (resolved's list of upstream servers).
func ResolvConfDNS(paths ...string) []netip.Addr {
	for _, p := range paths {
		if dns := parseResolvConf(p); len(dns) > 0 {
			return dns
		}
	}
	return nil
}

func parseResolvConf(path string) []netip.Addr {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []netip.Addr
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(out) < 3 {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(fields[1])
		if err != nil || !a.Is4() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() {
			continue
		}
		out = append(out, a)
	}
	return out
}
