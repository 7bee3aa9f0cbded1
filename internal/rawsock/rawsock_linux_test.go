package rawsock

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// pair returns a Socket on one end of a socket pair and a net.UnixConn
// on the other end.
func pair(t *testing.T) (*Socket, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[1]), "socketpair")
	c, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	r, err := New(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, c.(*net.UnixConn)
}

// TestSocketWriteWaits writes far more than the socket's buffer while
// the peer reads: the writer waits for room and every byte arrives, in
// order.
func TestSocketWriteWaits(t *testing.T) {
	r, peer := pair(t)
	if err := unix.SetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096); err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := range 3 {
		want = append(want, bytes.Repeat([]byte{byte('a' + i)}, 300<<10)...)
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	bufs := [][]byte{want[:300<<10], nil, want[300<<10 : 600<<10], want[600<<10:]}
	if err := r.WriteAll(bufs, nil); err != nil {
		t.Fatal(err)
	}
	if r.watching {
		t.Error("the socket is still in the out set after the write")
	}
	// A second write works the same after the first one waited.
	if err := r.WriteAll([][]byte{[]byte("end")}, nil); err != nil {
		t.Fatal(err)
	}
	_ = r.Close()
	if b := <-got; !bytes.Equal(b, append(want, "end"...)) {
		t.Errorf("peer read %d bytes, want %d (or other bytes)", len(b), len(want)+3)
	}
}

// TestSocketRead reads what the peer writes, then the end of the
// stream.
func TestSocketRead(t *testing.T) {
	r, peer := pair(t)
	go func() {
		_, _ = peer.Write([]byte("hello"))
		_ = peer.CloseWrite()
	}()
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "hello" {
		t.Errorf("read %q, %v; want \"hello\", nil", b, err)
	}
}

// TestSocketRights passes a file descriptor with a message.
func TestSocketRights(t *testing.T) {
	r, peer := pair(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if err := r.WriteAll([][]byte{[]byte("msg")}, unix.UnixRights(int(pr.Fd()))); err != nil {
		t.Fatal(err)
	}
	buf, oob := make([]byte, 8), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := peer.ReadMsgUnix(buf, oob)
	if err != nil || string(buf[:n]) != "msg" {
		t.Fatalf("peer read %q, %v", buf[:n], err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages: %v, %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("rights: %v, %v", fds, err)
	}
	_ = unix.Close(fds[0])
}

// TestSocketCloseEndsRead checks that Close ends a read that waits.
func TestSocketCloseEndsRead(t *testing.T) {
	r, _ := pair(t)
	done := make(chan error)
	go func() {
		_, err := r.Read(make([]byte, 8))
		done <- err
	}()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Error("read ended by close: no error")
	}
}

// TestDialBus connects to the first socket of a bus address that
// accepts, skipping other transports and sockets nobody listens on.
func TestDialBus(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			_ = c.Close()
		}
		accepted <- err
	}()
	address := "tcp:host=localhost;unix:path=" + filepath.Join(dir, "none") + ";unix:path=" + filepath.Join(dir, "bus")
	r, err := DialBus(address)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Close()
	if err := <-accepted; err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"tcp:host=localhost", "unix:path=" + filepath.Join(dir, "none")} {
		if r, err := DialBus(bad); err == nil {
			_ = r.Close()
			t.Errorf("DialBus(%q): no error", bad)
		}
	}
}
