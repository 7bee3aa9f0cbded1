// Package enable makes machines start at boot: it writes and removes the
// unit links systemctl enable would, as plain file operations on a
// paths.Paths, so it works the same whether or not systemd runs.
//
// Enabling machine NAME creates
//
//	<UnitDir>/berth-machines.target.wants/berth-nspawn@NAME.service -> <template>
//	<UnitDir>/multi-user.target.wants/berth-machines.target -> <target>
//
// (the second only if missing: unlike machinectl of systemd v252, enabling
// a machine makes sure berth's target is wanted too), and optionally a
// drop-in with the machine's own settings (resource limits, kill signal)
// under <UnitDir>/berth-nspawn@NAME.service.d/, so the boot-time instance
// of the shared template runs with them. Disabling removes the machine's
// link and drop-in and leaves the target alone. With systemd as PID 1 the
// caller reloads systemd afterwards; the embedded backend reads Enabled
// when berthd starts.
//
// Every function needs write access to the unit directory (root on a real
// host) and nothing else.
package enable
