package kernel

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRetry(t *testing.T) {
	tests := []struct {
		name  string
		errs  []error
		calls int
		want  error
	}{
		{"success", []error{nil}, 1, nil},
		{"eintr then success", []error{unix.EINTR, unix.EINTR, nil}, 3, nil},
		{"eintr then error", []error{unix.EINTR, unix.ENOENT}, 2, unix.ENOENT},
		{"error", []error{unix.EPERM}, 1, unix.EPERM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Retry("op", func() error { calls++; return tc.errs[calls-1] })
			if calls != tc.calls {
				t.Errorf("calls = %d, want %d", calls, tc.calls)
			}
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			var se *os.SyscallError
			if err != nil && (!errors.As(err, &se) || se.Syscall != "op") {
				t.Errorf("err %v is not a SyscallError named op", err)
			}
			n, err := RetryInt("op", func() (int, error) { return 7, nil })
			if n != 7 || err != nil {
				t.Errorf("RetryInt = %d, %v", n, err)
			}
		})
	}
}
