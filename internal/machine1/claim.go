package machine1

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"
)

// ErrNameTaken is returned by Claim when another connection owns the name.
var ErrNameTaken = errors.New("bus name is taken")

// Claim requests name on conn without queueing. If another connection
// owns it, the error names the owner (unique name, PID and command) and
// the remedy.
func Claim(conn *dbus.Conn, name string) error {
	reply, err := conn.RequestName(name, dbus.NameFlagDoNotQueue)
	if err != nil {
		return fmt.Errorf("request bus name %s: %w (only root may own it under the shipped policy)", name, err)
	}
	switch reply {
	case dbus.RequestNameReplyPrimaryOwner, dbus.RequestNameReplyAlreadyOwner:
		return nil
	}
	return fmt.Errorf("bus name %s is owned by %s; stop that service first "+
		"(for systemd-machined: systemctl stop systemd-machined.service; systemctl mask systemd-machined.service) "+
		"or run berthd with --bus-name=OTHER: %w", name, describeOwner(conn, name), ErrNameTaken)
}

// describeOwner names the current owner of name as well as the bus lets us.
func describeOwner(conn *dbus.Conn, name string) string {
	var owner string
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, name).Store(&owner); err != nil {
		return "another connection"
	}
	var pid uint32
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, owner).Store(&pid); err != nil {
		return owner
	}
	comm, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/comm")
	if err != nil {
		return fmt.Sprintf("%s (PID %d)", owner, pid)
	}
	return fmt.Sprintf("%s (PID %d, %s)", owner, pid, strings.TrimSpace(string(comm)))
}
