package passwd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrNoUser is returned when a user is not in the passwd file.
var ErrNoUser = errors.New("no such user")

// MaxFileSize caps how much of a passwd or group file is read.
const MaxFileSize = 4 << 20

// User is one resolved user.
type User struct {
	Name  string
	UID   uint32
	GID   uint32
	Home  string
	Shell string
	// Groups are the supplementary group IDs (from the group file).
	Groups []uint32
}

// Lookup finds name (a user name, or a decimal UID) in passwd and its
// supplementary groups in group (which may be nil).
func Lookup(name string, passwd, group io.Reader) (User, error) {
	u, err := findUser(name, io.LimitReader(passwd, MaxFileSize))
	if err != nil {
		return User{}, err
	}
	if group != nil {
		u.Groups = groupsOf(u.Name, u.GID, io.LimitReader(group, MaxFileSize))
	}
	return u, nil
}

func findUser(name string, r io.Reader) (User, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) != 7 {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil || (f[0] != name && f[2] != name) {
			continue
		}
		return User{Name: f[0], UID: uint32(uid), GID: uint32(gid), Home: f[5], Shell: f[6]}, nil
	}
	if err := sc.Err(); err != nil {
		return User{}, fmt.Errorf("passwd: %w", err)
	}
	return User{}, fmt.Errorf("%w: %q", ErrNoUser, name)
}

// groupsOf lists the IDs of the groups that name their user as a member,
// excluding the primary group.
func groupsOf(user string, primary uint32, r io.Reader) []uint32 {
	var out []uint32
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) != 4 {
			continue
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil || uint32(gid) == primary {
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if m == user {
				out = append(out, uint32(gid))
				break
			}
		}
	}
	return out
}
