package netwatch

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/rtnl"
)

// linkMessage builds a link message's data: an ifinfomsg for index and
// the attributes, each padded to 4 bytes.
func linkMessage(index int32, attrs ...[]byte) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	for _, a := range attrs {
		b = append(b, a...)
		for len(b)%unix.RTA_ALIGNTO != 0 {
			b = append(b, 0)
		}
	}
	return b
}

// rtattr builds one attribute, unpadded.
func rtattr(typ uint16, v []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(unix.SizeofRtAttr+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	return append(b, v...)
}

func TestLinkID(t *testing.T) {
	mtu := rtattr(unix.IFLA_MTU, []byte{0xdc, 5, 0, 0})
	tests := []struct {
		name      string
		data      []byte
		wantIndex int
		wantName  string
		wantOK    bool
	}{
		{"name after another attribute", linkMessage(7, mtu, rtattr(unix.IFLA_IFNAME, []byte("ve-a\x00"))), 7, "ve-a", true},
		{"name first", linkMessage(3, rtattr(unix.IFLA_IFNAME, []byte("vz-zone\x00")), mtu), 3, "vz-zone", true},
		{"no name", linkMessage(9, mtu), 9, "", true},
		{"short header", make([]byte, unix.SizeofIfInfomsg-1), 0, "", false},
		{"attribute longer than the data", append(linkMessage(2), 0xff, 0, unix.IFLA_IFNAME, 0), 0, "", false},
		{"attribute shorter than its header", append(linkMessage(2), 2, 0, unix.IFLA_IFNAME, 0), 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			index, name, ok := linkID(tt.data)
			if index != tt.wantIndex || name != tt.wantName || ok != tt.wantOK {
				t.Errorf("linkID = %d, %q, %v; want %d, %q, %v", index, name, ok, tt.wantIndex, tt.wantName, tt.wantOK)
			}
		})
	}
}

// FuzzLinkID: linkID does not panic, and where both it and
// rtnl.ParseLink parse a link message, they find the same index and name.
func FuzzLinkID(f *testing.F) {
	f.Add(linkMessage(7, rtattr(unix.IFLA_MTU, []byte{0xdc, 5, 0, 0}), rtattr(unix.IFLA_IFNAME, []byte("ve-a\x00"))))
	f.Add(linkMessage(3, rtattr(unix.IFLA_IFNAME, []byte("vz-zone\x00"))))
	f.Fuzz(func(t *testing.T, data []byte) {
		index, name, ok := linkID(data)
		if !ok {
			return
		}
		link, err := rtnl.ParseLink(data)
		if err != nil {
			return
		}
		if link.Index != index || link.Name != name {
			t.Fatalf("linkID = %d, %q; rtnl.ParseLink has %d, %q", index, name, link.Index, link.Name)
		}
	})
}
