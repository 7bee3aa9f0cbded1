// Package names validates the names users give machines and images.
//
// One validator per kind of name, used on every entry point (command line,
// bus, state files, settings files) before a name is joined into a path or
// an object path:
//
//   - machine names follow systemd's hostname_is_valid: ASCII letters,
//     digits, '-' and '.', at most 64 bytes, no leading '.' or '-', no empty
//     label, no label ending in '-'. '_' is refused, as systemd refuses it.
//   - image names follow image_name_is_valid: a valid file name (no '/',
//     not "." or "..", at most 255 bytes), no control characters, valid
//     UTF-8, not starting with ".#" (berth's temporary files). berth also
//     refuses Unicode format characters such as the right-to-left override,
//     which make one name look like another.
//
// The package is pure and needs no privileges.
package names
