package enter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxPasswdSize bounds the passwd file read from a machine.
const MaxPasswdSize = 4 << 20

// ErrNoUser means the machine's passwd file has no such user.
var ErrNoUser = errors.New("no such user")

// User is one passwd(5) entry.
type User struct {
	Name     string
	UID, GID uint32
	Home     string
	Shell    string
}

// ParseUser finds name in passwd data, parsed by hand: the machine's own
// file, never NSS. Malformed lines are skipped.
func ParseUser(data []byte, name string) (User, error) {
	if name == "" || strings.ContainsAny(name, ":\n\x00") {
		return User{}, fmt.Errorf("user %q: %w", name, ErrInvalid)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxPasswdSize)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) != 7 || f[0] != name {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return User{Name: name, UID: uint32(uid), GID: uint32(gid), Home: f[5], Shell: f[6]}, nil
	}
	return User{}, fmt.Errorf("user %q: %w", name, ErrNoUser)
}
