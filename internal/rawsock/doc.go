// Package rawsock is a unix stream socket for daemons that sit idle
// between short exchanges, such as berthd's bus connections: Socket reads
// and writes with raw non-blocking system calls and waits in Go's poller
// only on an epoll set that holds the socket for the one event a waiting
// reader or writer needs. It spares the thread wake-ups of a net.Conn
// (the runtime's monitor thread after idle, and the poller's thread each
// time the peer drains the socket); see Socket for why.
//
// A Socket is an io.ReadCloser; WriteAll writes a list of buffers, with
// file descriptors if asked. Dial and New need no privileges beyond
// access to the socket.
package rawsock
