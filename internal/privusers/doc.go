// Package privusers turns the user namespace options of berth-nspawn
// (-U, --private-users=, --private-users-ownership=, --private-users-chown,
// the idmap bind options, and PrivateUsers= of .nspawn files) into a
// validated setting, and prepares a machine's user namespace from it:
// the UID range (internal/uidrange), and the ownership of the image, either
// rewritten (internal/chownshift) or mapped (internal/idmap).
//
// Parsing and validation are pure functions that run before anything is
// changed; Prepare needs root.
//
// A spawner runs a user-namespaced machine like this:
//
//	u := privusers.FlagU(privusers.KernelHasUserNS())     // -U; or ParseUsers(--private-users=)
//	o, _ := privusers.ParseOwnership(v)                    // --private-users-ownership=, if given
//	if err := privusers.Validate(u, o, readOnly, volatile); err != nil { ... } // before any change
//	// optionally, as early as possible: if privusers.MayMap(u, o, dir) {
//	//	carrier = idmap.StartCarrier() }  (Config.Carrier; Close it after Prepare)
//	bar, endBar := privusers.TerminalProgress(os.Stderr)
//	p, err := privusers.Prepare(privusers.Config{Paths: paths, Machine: name, Root: dir,
//		Users: u, Ownership: o, ReadOnly: readOnly, Volatile: volatile, Progress: bar})
//	endBar() // then report p.Ownership and p.Reason (auto's choice)
//	defer p.Release()                                      // when the machine has exited
//	// p.Mappings(): uid_map and gid_map of the machine's user namespace
//	// (exec.Cmd SysProcAttr UidMappings/GidMappings, written by the
//	// host-root parent, so setgroups may stay allowed).
//	// p.Ownership == OwnershipMap: attach p.RootTree() where the root goes
//	// (or call p.MountRoot(target)); otherwise bind-mount dir as for a
//	// privileged machine.
//	// Binds: ParseBindOption per option; p.BindTree(src, b, recursive) to
//	// attach, or p.MountBind(src, dst, b), for idmap, rootidmap and
//	// idmap=HOST:CONTAINER[:COUNT].
//	// p.Range: what the daemon reports (GetUIDShift = p.Range.Base).
package privusers
