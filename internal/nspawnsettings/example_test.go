package nspawnsettings_test

import (
	"fmt"

	"github.com/berth-dev/berth/internal/nspawnsettings"
)

// The spawner records its options, the file is parsed (normally Find or
// Resolve does that), and Merge applies --settings= and trust.
func ExampleMerge() {
	var cmd nspawnsettings.Settings
	_ = cmd.SetFromCommandLine("Boot", "yes")          // -b
	_ = cmd.SetFromCommandLine("Bind", "/srv/data")    // --bind=/srv/data
	_ = cmd.SetFromCommandLine("PrivateUsers", "pick") // -U

	file := "[Exec]\nBoot=no\nHostname=web\n[Files]\nBind=/etc\n"
	s, _, err := nspawnsettings.Parse([]byte(file), "/var/lib/machines/web.nspawn")
	if err != nil {
		panic(err)
	}
	eff := nspawnsettings.Merge(&cmd, &nspawnsettings.File{Path: "/var/lib/machines/web.nspawn", Settings: s},
		nspawnsettings.ModeYes)
	for _, key := range []string{"Boot", "Hostname", "Bind", "PrivateUsers", "PrivateUsersOwnership"} {
		e, _ := eff.Settings.Lookup(key)
		fmt.Printf("%s=%s (%s)\n", e.Key, e.Value, e.Origin)
	}
	for _, w := range eff.Warnings {
		fmt.Println("warning:", w)
	}
	// Output:
	// Boot=yes (command line)
	// Hostname=web (/var/lib/machines/web.nspawn:3)
	// Bind=/srv/data:/srv/data (command line)
	// PrivateUsers=pick (command line)
	// PrivateUsersOwnership=auto (default)
	// warning: /var/lib/machines/web.nspawn:5: ignoring Bind=: privileged setting in untrusted file /var/lib/machines/web.nspawn
}
