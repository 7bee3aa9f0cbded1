package dbuswire

import "testing"

func TestUnixSocket(t *testing.T) {
	for _, tc := range []struct {
		addr, want string
		wantErr    bool
	}{
		{addr: "unix:path=/run/dbus/system_bus_socket", want: "/run/dbus/system_bus_socket"},
		{addr: "unix:path=/tmp/a%20b,guid=00", want: "/tmp/a b"},
		{addr: "unix:guid=00,abstract=/tmp/dbus-x", want: "@/tmp/dbus-x"},
		{addr: "tcp:host=localhost,port=1", wantErr: true},
		{addr: "unix:path=/tmp/%2", wantErr: true},
		{addr: "unix:path=/tmp/%zz", wantErr: true},
		{addr: "unix:guid=00", wantErr: true},
		{addr: "unix:tmpdir=/tmp", wantErr: true},
		{addr: "unix:path=", wantErr: true},
		{addr: "unix:", wantErr: true},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			got, err := UnixSocket(tc.addr)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("UnixSocket(%q) = %q, %v; want %q, error %v", tc.addr, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestSystemBusAddress(t *testing.T) {
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "")
	if got := SystemBusAddress(); got != DefaultSystemBus {
		t.Errorf("SystemBusAddress() = %q, want %q", got, DefaultSystemBus)
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:abstract=x")
	if got := SystemBusAddress(); got != "unix:abstract=x" {
		t.Errorf("SystemBusAddress() = %q", got)
	}
}
