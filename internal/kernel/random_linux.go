package kernel

import "golang.org/x/sys/unix"

// Random fills b from the kernel's random pool (getrandom(2), blocking
// only until the pool is first seeded), as crypto/rand does. For the
// random names of the spawner, which need no more: linking crypto/rand
// runs the initialization of the FIPS crypto module at every process
// start.
func Random(b []byte) error {
	for len(b) > 0 {
		n, err := RetryInt("getrandom", func() (int, error) { return unix.Getrandom(b, 0) })
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
