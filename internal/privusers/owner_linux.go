package privusers

import (
	"os"
	"syscall"
)

// ownerOf returns the owner UID and GID of a file.
func ownerOf(fi os.FileInfo) (uint32, uint32) {
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}
