package kernel

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

// nonblockPair returns a connected pair of non-blocking unix stream
// sockets, closed when the test ends.
func nonblockPair(t *testing.T) [2]int {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fds[0]); _ = unix.Close(fds[1]) })
	return fds
}

func TestReadNonblock(t *testing.T) {
	fds := nonblockPair(t)
	buf := make([]byte, 8)
	if n, again, err := ReadNonblock(fds[0], buf); n != 0 || !again || err != nil {
		t.Fatalf("read of an empty socket: %d, %v, %v; want 0, true, nil", n, again, err)
	}
	if _, err := unix.Write(fds[1], []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if n, again, err := ReadNonblock(fds[0], buf); n != 3 || again || err != nil || string(buf[:n]) != "abc" {
		t.Fatalf("read: %d %q, %v, %v; want 3 \"abc\", false, nil", n, buf[:n], again, err)
	}
	if err := unix.Shutdown(fds[1], unix.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	if n, again, err := ReadNonblock(fds[0], buf); n != 0 || again || err != nil {
		t.Fatalf("read at the end: %d, %v, %v; want 0, false, nil", n, again, err)
	}
	if _, _, err := ReadNonblock(-1, buf); err == nil {
		t.Error("read of a bad descriptor: no error")
	}
}

func TestWritevNonblock(t *testing.T) {
	for _, tc := range []struct {
		name string
		bufs []string
		want string
	}{
		{"none", nil, ""},
		{"empty buffers are skipped", []string{"", "ab", "", "cd", ""}, "abcd"},
		{"at most four buffers", []string{"a", "b", "c", "d", "e"}, "abcd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fds := nonblockPair(t)
			var bufs [][]byte
			for _, s := range tc.bufs {
				bufs = append(bufs, []byte(s))
			}
			n, again, err := WritevNonblock(fds[0], bufs)
			if n != len(tc.want) || again || err != nil {
				t.Fatalf("writev: %d, %v, %v; want %d, false, nil", n, again, err, len(tc.want))
			}
			got := make([]byte, 16)
			m, _, _ := ReadNonblock(fds[1], got)
			if string(got[:m]) != tc.want {
				t.Errorf("peer read %q, want %q", got[:m], tc.want)
			}
		})
	}
}

// TestWritevNonblockFull fills a socket's buffer: the last write is
// short or reports again, and the peer reads every byte written.
func TestWritevNonblockFull(t *testing.T) {
	fds := nonblockPair(t)
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	written := 0
	for {
		n, again, err := WritevNonblock(fds[0], [][]byte{chunk})
		if err != nil {
			t.Fatal(err)
		}
		if again {
			break
		}
		written += n
	}
	read := 0
	buf := make([]byte, 64<<10)
	for {
		n, again, err := ReadNonblock(fds[1], buf)
		if err != nil {
			t.Fatal(err)
		}
		if again {
			break
		}
		read += n
	}
	if written == 0 || read != written {
		t.Errorf("wrote %d bytes until the buffer was full, peer read %d", written, read)
	}
}

func TestSendmsgNonblock(t *testing.T) {
	fds := nonblockPair(t)
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pipe[0])
	defer unix.Close(pipe[1])
	n, again, err := SendmsgNonblock(fds[0], []byte("msg"), unix.UnixRights(pipe[0]))
	if n != 3 || again || err != nil {
		t.Fatalf("sendmsg: %d, %v, %v; want 3, false, nil", n, again, err)
	}
	buf, oob := make([]byte, 8), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(fds[1], buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil || string(buf[:n]) != "msg" {
		t.Fatalf("recvmsg: %q, %v", buf[:n], err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages: %v, %v", msgs, err)
	}
	got, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(got) != 1 {
		t.Fatalf("rights: %v, %v", got, err)
	}
	_ = unix.Close(got[0])
}
