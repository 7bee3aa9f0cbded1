//go:build linux && cgo

package early

/*
#cgo LDFLAGS: -static
#define _GNU_SOURCE
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "early.h"
#include "wire.h"

// berth_test_reply runs berth_read_reply over the n bytes at b, read from
// a memfd as the early path reads the bus's socket: the reply's kind,
// with its error name and message copied to name and msg (truncated to
// their sizes), or -1 when the memfd cannot be made.
static int berth_test_reply(const unsigned char *b, size_t n, unsigned serial, char *name, size_t namelen, char *msg,
			    size_t msglen, int *has_msg) {
	int fd = memfd_create("berthctl-reply", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, b + off, n - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	lseek(fd, 0, SEEK_SET);
	struct berth_in *in = calloc(1, sizeof *in);
	struct berth_reply r;
	in->fd = fd;
	int kind = berth_read_reply(in, serial, &r);
	name[0] = msg[0] = 0;
	*has_msg = r.has_msg;
	if (kind == BERTH_R_ERROR) {
		strncat(name, r.name, namelen - 1);
		if (r.has_msg)
			strncat(msg, r.msg, msglen - 1);
	}
	berth_reply_free(&r);
	free(in);
	close(fd);
	return kind;
}

// berth_test_call encodes one call as the early path sends it; the caller
// frees the result.
static unsigned char *berth_test_call(unsigned serial, const char *member, const char *sig, const char *str, int flag,
				      size_t *len) {
	struct berth_out o = {0};
	berth_out_call(&o, serial, "org.freedesktop.machine1", "/org/freedesktop/machine1", "dev.berth.Manager1", member,
		       sig, str, flag);
	*len = o.len;
	return o.b;
}

// berth_test_auth encodes the handshake for uid; the caller frees it.
static unsigned char *berth_test_auth(unsigned uid, size_t *len) {
	struct berth_out o = {0};
	berth_out_auth(&o, uid);
	*len = o.len;
	return o.b;
}

// berth_test_socket is berth_early_socket's answer as a string: the path,
// or "@" and the abstract name; empty when the address is left to Go.
static void berth_test_socket(const char *addr, char *out, size_t outlen) {
	struct sockaddr_un sa;
	socklen_t len;
	out[0] = 0;
	if (berth_early_socket(addr, &sa, &len) != 0)
		return;
	size_t n = len - offsetof(struct sockaddr_un, sun_path) - 1;
	if (sa.sun_path[0] == 0) {
		out[0] = '@';
		memcpy(out + 1, sa.sun_path + 1, n < outlen - 2 ? n : outlen - 2);
		out[1 + (n < outlen - 2 ? n : outlen - 2)] = 0;
	} else
		strncat(out, sa.sun_path, outlen - 1);
}
*/
import "C"

import "unsafe"

// The Go face of the C code, for the tests and the fuzz target (cgo is not
// allowed in test files).

// Kinds of replies (wire.h).
const (
	replyReturn    = C.BERTH_R_RETURN
	replyError     = C.BERTH_R_ERROR
	replyEOF       = C.BERTH_R_EOF
	replyMalformed = C.BERTH_R_MALFORMED
	maxReply       = C.BERTH_MAX_REPLY
)

// reply is what the C reader made of a stream of messages.
type reply struct {
	Kind      int
	Name, Msg string
	HasMsg    bool
}

// readReply runs the C reader over b, waiting for the reply to serial.
// Error names and messages longer than 4 KiB are cut there.
func readReply(b []byte, serial uint32) reply {
	var name, msg [4096]C.char
	var hasMsg C.int
	var p *C.uchar
	if len(b) > 0 {
		p = (*C.uchar)(unsafe.Pointer(&b[0]))
	}
	kind := C.berth_test_reply(p, C.size_t(len(b)), C.uint(serial), &name[0], C.size_t(len(name)), &msg[0], C.size_t(len(msg)), &hasMsg)
	return reply{Kind: int(kind), Name: C.GoString(&name[0]), Msg: C.GoString(&msg[0]), HasMsg: hasMsg != 0}
}

// encodeCall returns the C encoding of a call of berthd's manager with
// the arguments of sig ("", "s" or "sb").
func encodeCall(serial uint32, member, sig, str string, flag bool) []byte {
	cm, cs, cstr := C.CString(member), C.CString(sig), C.CString(str)
	defer C.free(unsafe.Pointer(cm))
	defer C.free(unsafe.Pointer(cs))
	defer C.free(unsafe.Pointer(cstr))
	f := C.int(0)
	if flag {
		f = 1
	}
	var n C.size_t
	b := C.berth_test_call(C.uint(serial), cm, cs, cstr, f, &n)
	defer C.free(unsafe.Pointer(b))
	return C.GoBytes(unsafe.Pointer(b), C.int(n))
}

// encodeAuth returns the C encoding of the handshake for uid.
func encodeAuth(uid uint32) []byte {
	var n C.size_t
	b := C.berth_test_auth(C.uint(uid), &n)
	defer C.free(unsafe.Pointer(b))
	return C.GoBytes(unsafe.Pointer(b), C.int(n))
}

// command is what the C argument reader made of a command line.
type command struct {
	Member string
	Force  bool
	Names  int
}

// parseArgs runs the C argument reader over berthctl's arguments; ok is
// false for command lines left to the Go path.
func parseArgs(args []string) (command, bool) {
	argv := make([]*C.char, 0, len(args)+2)
	argv = append(argv, C.CString("berthctl"))
	for _, a := range args {
		argv = append(argv, C.CString(a))
	}
	argv = append(argv, nil)
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	var c C.struct_berth_cmd
	cargv := (**C.char)(C.malloc(C.size_t(len(argv)) * C.size_t(unsafe.Sizeof(argv[0]))))
	defer C.free(unsafe.Pointer(cargv))
	copy(unsafe.Slice(cargv, len(argv)), argv)
	if C.berth_early_args(C.int(len(argv)-1), cargv, &c) != 0 {
		return command{}, false
	}
	return command{Member: C.GoString(c.verb.member), Force: c.force != 0, Names: int(c.names)}, true
}

// busSocket runs the C address reader: the socket's path, or "@" and its
// abstract name; ok is false for addresses left to the Go path.
func busSocket(addr string) (string, bool) {
	ca := C.CString(addr)
	defer C.free(unsafe.Pointer(ca))
	var out [256]C.char
	C.berth_test_socket(ca, &out[0], C.size_t(len(out)))
	s := C.GoString(&out[0])
	return s, s != ""
}
