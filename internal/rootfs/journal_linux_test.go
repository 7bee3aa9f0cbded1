package rootfs

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/berth-dev/berth/internal/testbed"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// inMountNS runs fn on a thread of its own in a private mount namespace;
// the thread ends with fn, and the namespace with it.
func inMountNS(t *testing.T, fn func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// journalResult is what --link-journal left behind.
type journalResult struct {
	Err bool
	// Host is the host's entry: "none", "dir" or "link to GUEST".
	Host string
	// GuestDir says the guest's /var/log/journal/ID exists, Bound that a
	// file made in the host's directory shows there.
	GuestDir, Bound bool
}

func TestIntegrationLinkJournal(t *testing.T) {
	testbed.RequireRoot(t)
	const id = "0123456789abcdef0123456789abcdef"
	link := "link to GUEST"
	tests := []struct {
		name, mode string
		id         string
		// hostDir says the host's journal directory exists; entry is what
		// is at its ID entry first ("", "dir", "full dir", "link", "other link").
		hostDir bool
		entry   string
		want    journalResult
	}{
		{"guest", "guest", id, true, "", journalResult{Host: link, GuestDir: true}},
		{"try-guest", "try-guest", id, true, "", journalResult{Host: link, GuestDir: true}},
		{"guest replaces an empty directory", "guest", id, true, "dir", journalResult{Host: link, GuestDir: true}},
		{"guest replaces another link", "guest", id, true, "other link", journalResult{Host: link, GuestDir: true}},
		{"guest keeps its link", "guest", id, true, "link", journalResult{Host: link, GuestDir: true}},
		{"guest refuses a full directory", "guest", id, true, "full dir", journalResult{Err: true, Host: "dir"}},
		{"guest without a host journal", "guest", id, false, "", journalResult{Err: true, Host: "none"}},
		{"try-guest without a host journal", "try-guest", id, false, "", journalResult{Host: "none"}},
		{"guest without a machine ID", "guest", "", true, "", journalResult{Err: true, Host: "none"}},
		{"try-guest without a machine ID", "try-guest", "", true, "", journalResult{Host: "none"}},
		{"host", "host", id, true, "", journalResult{Host: "dir", GuestDir: true, Bound: true}},
		{"try-host", "try-host", id, true, "dir", journalResult{Host: "dir", GuestDir: true, Bound: true}},
		{"host without a host journal", "host", id, false, "", journalResult{Err: true, Host: "none"}},
		{"try-host without a host journal", "try-host", id, false, "", journalResult{Host: "none"}},
		{"auto binds a host directory", "auto", id, true, "dir", journalResult{Host: "dir", GuestDir: true, Bound: true}},
		{"auto follows its link", "auto", id, true, "link", journalResult{Host: link, GuestDir: true}},
		{"auto removes another link", "auto", id, true, "other link", journalResult{Host: "none"}},
		{"auto with nothing", "auto", id, true, "", journalResult{Host: "none"}},
		{"no", "no", id, true, "dir", journalResult{Host: "dir"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			img, hostJournal := filepath.Join(tmp, "image"), filepath.Join(tmp, "host", "var/log/journal")
			guestOnHost := filepath.Join(img, "var/log/journal", tc.id)
			if err := os.MkdirAll(img, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.hostDir {
				makeEntry(t, hostJournal, filepath.Join(hostJournal, tc.id), tc.entry, guestOnHost)
			}
			s := &Spec{Dir: img, LinkJournal: tc.mode, MachineID: tc.id, HostJournal: hostJournal}
			var got journalResult
			err := inMountNS(t, func() error {
				r, err := openRoot(img)
				if err != nil {
					return err
				}
				defer r.Close()
				got.Err = r.linkJournal(s) != nil
				got.Host = "none"
				if tc.id != "" {
					got.Host = hostEntry(filepath.Join(hostJournal, tc.id), guestOnHost)
				}
				got.GuestDir, got.Bound = guestEntry(filepath.Join(hostJournal, tc.id), guestOnHost, tc.id != "")
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

// makeEntry creates the host's journal directory dir and, at entry, what
// kind says.
func makeEntry(t *testing.T, dir, entry, kind, guestOnHost string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var err error
	switch kind {
	case "dir":
		err = os.Mkdir(entry, 0o755)
	case "full dir":
		if err = os.Mkdir(entry, 0o755); err == nil {
			err = os.WriteFile(filepath.Join(entry, "system.journal"), nil, 0o644)
		}
	case "link":
		err = os.Symlink(guestOnHost, entry)
	case "other link":
		err = os.Symlink("/nonexistent/journal", entry)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// hostEntry describes the host's journal entry.
func hostEntry(entry, guestOnHost string) string {
	if target, err := os.Readlink(entry); err == nil {
		if target == guestOnHost {
			return "link to GUEST"
		}
		return "link to " + target
	}
	if st, err := os.Stat(entry); err == nil && st.IsDir() {
		return "dir"
	}
	return "none"
}

// guestEntry says whether the guest's journal directory exists and shows
// a file made in the host's.
func guestEntry(entry, guestOnHost string, hasID bool) (exists, bound bool) {
	if !hasID {
		return false, false
	}
	if st, err := os.Lstat(guestOnHost); err != nil || !st.IsDir() {
		return false, false
	}
	if st, err := os.Lstat(entry); err != nil || !st.IsDir() {
		return true, false
	}
	if err := os.WriteFile(filepath.Join(entry, "probe"), nil, 0o644); err != nil {
		return true, false
	}
	_, err := os.Stat(filepath.Join(guestOnHost, "probe"))
	return true, err == nil
}
