// Package testbed is the real-parts harness every berth integration test
// uses: images built in temp directories, a private dbus-daemon configured
// like the system bus with berth's own policy, throwaway network namespaces,
// a private paths layout, and the project's binaries built once per test
// process.
//
// Privileged helpers call RequireRoot. Outside CI a test that lacks root or a
// tool skips; with BERTH_TEST_STRICT=1 (set by .ci/run) the same condition is
// a failure, so a privileged test can never pass by skipping in CI.
package testbed
