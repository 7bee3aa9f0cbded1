// Package privusers turns the user namespace options of berth-nspawn
// (-U, --private-users=, --private-users-ownership=, --private-users-chown,
// the idmap bind options, and PrivateUsers= of .nspawn files) into a
// validated setting, and prepares a machine's user namespace from it:
// the UID range (internal/uidrange), and the ownership of the image, either
// rewritten (internal/chownshift) or mapped (internal/idmap).
//
// Parsing and validation are pure functions that run before anything is
// changed; Prepare needs root.
package privusers
