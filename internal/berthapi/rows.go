package berthapi

// Link is one ListLinks entry: a(sibssss).
type Link struct {
	Name              string
	Index             int32
	Zone              bool
	Subnet, Address   string
	Subnet6, Address6 string
}

// Lease is one ListLeases entry: a(sssst).
type Lease struct {
	Link, Address, HWAddr, Hostname string
	ExpiryUSec                      uint64
}

// Forward is one ListPortForwards entry: a(ssqqssb).
type Forward struct {
	Machine, Proto          string
	HostPort, ContainerPort uint16
	Address, Address6       string
	Persistent              bool
}

// Finding is one DiagnoseNetwork entry: a(ss).
type Finding struct{ Code, Message string }

// Setting is one GetEffectiveSettings setting: a(ssss).
type Setting struct {
	Section, Key, Value, Origin string
}
