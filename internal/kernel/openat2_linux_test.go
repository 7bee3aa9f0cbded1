package kernel

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestRetryAgain(t *testing.T) {
	again := func(n int) []error {
		errs := make([]error, n)
		for i := range errs {
			errs[i] = unix.EAGAIN
		}
		return errs
	}
	tests := []struct {
		name  string
		errs  []error
		calls int
		want  error
	}{
		{"success", []error{nil}, 1, nil},
		{"eagain then success", append(again(3), nil), 4, nil},
		{"eintr and eagain mixed", []error{unix.EINTR, unix.EAGAIN, unix.EINTR, nil}, 4, nil},
		{"eagain then another error", []error{unix.EAGAIN, unix.ENOENT}, 2, unix.ENOENT},
		{"error at once", []error{unix.ELOOP}, 1, unix.ELOOP},
		{"eagain forever gives up", again(Openat2Retries + 5), Openat2Retries + 1, unix.EAGAIN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			fd, err := retryAgain(func() (int, error) {
				calls++
				if err := tc.errs[calls-1]; err != nil {
					return -1, err
				}
				return 42, nil
			})
			if calls != tc.calls {
				t.Errorf("calls = %d, want %d", calls, tc.calls)
			}
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			var se *os.SyscallError
			if err != nil && (!errors.As(err, &se) || se.Syscall != "openat2") {
				t.Errorf("err %v is not a SyscallError named openat2", err)
			}
			if err == nil && fd != 42 {
				t.Errorf("fd = %d, want 42", fd)
			}
		})
	}
}

// TestOpenat2RacingRenames resolves a deep path that climbs back with
// ".." inside a root while another goroutine renames a directory in a
// loop, which makes a bare openat2 fail with EAGAIN now and then: every
// lookup through Openat2 must succeed, and the symlink at its end must
// stay in the root.
func TestOpenat2RacingRenames(t *testing.T) {
	root := t.TempDir()
	deep := strings.Repeat("d/", 40)
	for _, d := range []string{deep, "b", "spin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "b", "f"), []byte("in root"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/../../b", filepath.Join(root, "up")); err != nil {
		t.Fatal(err)
	}
	dir, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		names := [2]string{filepath.Join(root, "spin"), filepath.Join(root, "spun")}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = os.Rename(names[i%2], names[(i+1)%2])
		}
	}()
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT}
	name := deep + strings.Repeat("../", 40) + "up/f"
	var failures []string
	for range 2000 {
		fd, err := Openat2(int(dir.Fd()), name, &how)
		if err != nil {
			failures = append(failures, err.Error())
			continue
		}
		unix.Close(fd)
	}
	close(stop)
	wg.Wait()
	if diff := cmp.Diff([]string(nil), failures); diff != "" {
		t.Errorf("lookups failed (-want +got):\n%s", diff)
	}
}
