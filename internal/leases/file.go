package leases

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"
)

// MaxFileSize bounds the lease file Load reads; a larger file is ignored.
const MaxFileSize = 16 << 20

// fileVersion is the format version written into lease files.
const fileVersion = 1

type fileContent struct {
	Version int               `json:"version"`
	Leases  []json.RawMessage `json:"leases"`
}

// Save writes the table's leases to path atomically: a temporary file in
// the same directory, fsync, rename, fsync of the directory. A file that
// holds these very bytes already is left alone, as an earlier Save wrote
// it just so: a DHCP server saves when it stops, mostly the leases it
// saved or loaded before, and the two fsyncs cost more CPU than the rest
// of a container link's setup.
func (t *Table) Save(path string) error {
	all := t.All()
	raw := make([]json.RawMessage, 0, len(all))
	for _, l := range all {
		b, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("save leases: %w", err)
		}
		raw = append(raw, b)
	}
	data, err := json.Marshal(fileContent{Version: fileVersion, Leases: raw})
	if err != nil {
		return fmt.Errorf("save leases: %w", err)
	}
	if holds(path, data) {
		return nil
	}
	if err := writeAtomic(path, data); err != nil {
		return fmt.Errorf("save leases: %w", err)
	}
	return nil
}

// holds reports whether the regular file at path holds exactly data.
func holds(path string, data []byte) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() != int64(len(data)) {
		return false
	}
	b := make([]byte, len(data)+1) // one more: a file that grew meanwhile differs
	n, err := io.ReadFull(f, b)
	return errors.Is(err, io.ErrUnexpectedEOF) && bytes.Equal(b[:n], data)
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Load adds the leases of the file at path to t. A missing file is no
// error. A file that cannot be parsed is skipped, and so is each entry
// that is invalid, outside the pool, expired before now, or a duplicate
// of an address or client already loaded; each skip is logged on log.
// Load returns the number of leases loaded.
func (t *Table) Load(path string, now time.Time, log *log.Logger) int {
	data, err := readBounded(path)
	if err != nil {
		if !os.IsNotExist(err) {
			log.Printf("lease file %s skipped: %v", path, err)
		}
		return 0
	}
	return t.loadBytes(data, now, func(format string, args ...any) {
		log.Printf("%s: "+format, append([]any{path}, args...)...)
	})
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	return data, nil
}

// loadBytes parses data and binds each good entry, reporting skips to warn.
func (t *Table) loadBytes(data []byte, now time.Time, warn func(string, ...any)) int {
	var c fileContent
	if err := json.Unmarshal(data, &c); err != nil {
		warn("lease file skipped: %v", err)
		return 0
	}
	if c.Version != fileVersion {
		warn("lease file skipped: unknown version %d", c.Version)
		return 0
	}
	n := 0
	for i, raw := range c.Leases {
		l, err := t.checkEntry(raw, now)
		if err == nil {
			err = t.bindNew(l)
		}
		if err != nil {
			warn("lease entry %d skipped: %v", i, err)
			continue
		}
		n++
	}
	return n
}

func (t *Table) checkEntry(raw json.RawMessage, now time.Time) (Lease, error) {
	var l Lease
	if err := json.Unmarshal(raw, &l); err != nil {
		return Lease{}, err
	}
	switch {
	case l.ClientID == "" || len(l.ClientID) > 512:
		return Lease{}, fmt.Errorf("bad client id")
	case len(l.Hostname) > 253 || len(l.HWAddr) > 64:
		return Lease{}, fmt.Errorf("bad hostname or hardware address")
	case !t.InPool(l.Addr):
		return Lease{}, fmt.Errorf("%v: %w", l.Addr, ErrNotInPool)
	case !l.Expiry.After(now):
		return Lease{}, fmt.Errorf("expired")
	}
	return l, nil
}

// bindNew binds l unless its address or client is already in the table.
func (t *Table) bindNew(l Lease) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.byAddr[l.Addr]; ok {
		return fmt.Errorf("duplicate address %v", l.Addr)
	}
	if _, ok := t.byClient[l.ClientID]; ok && l.ClientID != declinedClient {
		return fmt.Errorf("duplicate client")
	}
	t.bindLocked(l)
	return nil
}
