// Package oneproc runs a program on one P (GOMAXPROCS 1) from the start of
// its package initialisation on, for short-lived programs that mostly wait
// for the kernel and their children (berth-nspawn). Importing it for its
// side effect is all it takes; it needs no privileges.
//
// runtime.GOMAXPROCS(1) called from main is too late to be cheap: by then
// the runtime has run the package initialisation on two Ps, and shrinking
// to one flushes the second P's span caches into fresh span-set blocks,
// some thirty page faults on a VM where each fresh page is expensive. This
// package depends on the runtime only and its import path sorts early, so
// its init runs before almost every other package's. Where the runtime
// already started with one P (berth-nspawn's constructor starts it on one
// CPU, see package spawn), the call costs nothing and only keeps the
// runtime from raising GOMAXPROCS later. A GOMAXPROCS
// variable in the environment is left to the program to apply again, since
// this package cannot read the environment without depending on packages
// initialised later.
package oneproc
