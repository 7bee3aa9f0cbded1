// Package unitgen turns berth's unit template (berth-nspawn@.service) into
// the unit that runs one machine: it expands the template's specifiers for
// the machine, folds in the machine's own settings (resource limits, kill
// signal, stop timeout, environment) and returns a typed Unit that both
// backends run: the systemd backend as a transient unit, the embedded
// supervisor by itself.
//
// # Unit names
//
// systemd refuses StartTransientUnit for a name that already has a unit
// file or a template fragment on disk. berth-nspawn@NAME.service has one
// (the installed template), so a machine started at run time cannot use
// it. berth therefore names units by how a machine was started:
//
//   - berth-nspawn@NAME.service: an enabled machine started at boot by
//     systemd from the installed template (BootUnit);
//   - berth-machine@NAME.service: a machine berthd starts, as a transient
//     unit (Unit). No berth-machine@.service template is ever installed;
//     the name is reserved for berth.
//
// Both are the same machine to berthd and its users: a machine's identity
// is its name, the instance of either unit. MachineOf maps a unit name
// back to the machine; berthd looks a machine's unit up under both names
// (Names) before starting it, so a machine running from the boot unit
// counts as running and is never started twice; stopping, killing and
// state queries go to whichever unit runs it. The embedded backend always
// uses the transient name, also for machines it starts at boot.
//
// Specifiers are expanded as systemd would for a unit loaded under the
// transient name: %n is berth-machine@NAME.service, %p berth-machine, %i
// NAME. The template is read once per start; it is not trusted to be
// well-formed, and every unknown setting, unsupported specifier or
// malformed value is an error (ErrTemplate) rather than silently dropped,
// because a setting the backends would not apply must not vanish.
//
// All of this is pure code: it reads nothing from disk and needs no
// privileges.
package unitgen
