package dbuswire

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// DefaultSystemBus is the system bus's address when
// $DBUS_SYSTEM_BUS_ADDRESS is not set.
const DefaultSystemBus = "unix:path=/var/run/dbus/system_bus_socket"

// SystemBusAddress is where the system bus is, as sd-bus and libdbus find
// it: $DBUS_SYSTEM_BUS_ADDRESS, or DefaultSystemBus.
func SystemBusAddress() string {
	if a := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"); a != "" {
		return a
	}
	return DefaultSystemBus
}

// UnixSocket returns the socket one bus address names (one entry of a
// ";"-separated list): the path of "unix:path=P", or "@" and the name of
// "unix:abstract=A", with the %XX escapes of the value undone. Other
// keys, such as guid=, are ignored; other transports are an error.
func UnixSocket(address string) (string, error) {
	rest, ok := strings.CutPrefix(address, "unix:")
	if !ok {
		return "", addressError(address, errors.New("only unix: transports are supported"))
	}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(kv, "=")
		if k != "path" && k != "abstract" {
			continue
		}
		v, err := unescape(v)
		switch {
		case err != nil:
			return "", addressError(address, err)
		case v == "":
			return "", addressError(address, errors.New("empty "+k))
		case k == "abstract":
			return "@" + v, nil
		}
		return v, nil
	}
	return "", addressError(address, errors.New("no path= or abstract="))
}

func addressError(address string, err error) error {
	return fmt.Errorf("bus address %q: %w", address, err)
}

// unescape undoes the %XX escaping of address values.
func unescape(v string) (string, error) {
	if !strings.Contains(v, "%") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		if i+2 >= len(v) {
			return "", errors.New("truncated escape")
		}
		n, err := strconv.ParseUint(v[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape %q", v[i:i+3])
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), nil
}
