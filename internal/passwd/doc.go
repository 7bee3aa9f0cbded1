// Package passwd reads a container's /etc/passwd and /etc/group itself,
// never through NSS, so no code of the container is loaded into a host
// process. Lookup resolves a user name or numeric UID to the IDs, home and
// supplementary groups the payload runs with. It is pure: the caller opens
// the files (inside the container, after pivot_root).
package passwd
