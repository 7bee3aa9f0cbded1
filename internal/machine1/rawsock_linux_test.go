package machine1

import (
	"bytes"
	"io"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// rawPair returns a rawSocket on one end of a socket pair and a
// net.UnixConn on the other end.
func rawPair(t *testing.T) (*rawSocket, *net.UnixConn) {
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
	r, err := newRawSocket(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, c.(*net.UnixConn)
}

// TestRawSocketWriteWaits writes far more than the socket's buffer while
// the peer reads: the writer waits for room and every byte arrives, in
// order.
func TestRawSocketWriteWaits(t *testing.T) {
	r, peer := rawPair(t)
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
	if err := r.writeAll(bufs, nil); err != nil {
		t.Fatal(err)
	}
	if r.watching {
		t.Error("the socket is still in the out set after the write")
	}
	// A second write works the same after the first one waited.
	if err := r.writeAll([][]byte{[]byte("end")}, nil); err != nil {
		t.Fatal(err)
	}
	_ = r.Close()
	if b := <-got; !bytes.Equal(b, append(want, "end"...)) {
		t.Errorf("peer read %d bytes, want %d (or other bytes)", len(b), len(want)+3)
	}
}

// TestRawSocketRead reads what the peer writes, then the end of the
// stream.
func TestRawSocketRead(t *testing.T) {
	r, peer := rawPair(t)
	go func() {
		_, _ = peer.Write([]byte("hello"))
		_ = peer.CloseWrite()
	}()
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "hello" {
		t.Errorf("read %q, %v; want \"hello\", nil", b, err)
	}
}

// TestRawSocketRights passes a file descriptor with a message.
func TestRawSocketRights(t *testing.T) {
	r, peer := rawPair(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if err := r.writeAll([][]byte{[]byte("msg")}, unix.UnixRights(int(pr.Fd()))); err != nil {
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

// TestRawSocketCloseEndsRead checks that Close ends a read that waits.
func TestRawSocketCloseEndsRead(t *testing.T) {
	r, _ := rawPair(t)
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
