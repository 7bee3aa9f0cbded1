package gpt

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// imageSize is the size of the images the tables in testdata were
// written for (see testdata/make.sh).
const imageSize = 8 << 20

// table reads testdata/NAME.gpt, the start of an imageSize image.
func table(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".gpt"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRootPartition(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		table string // "" for an image without a partition table
		arch  string
		want  Partition
		err   error
	}{
		{table: "", arch: "amd64"},
		{table: "esp-root", arch: "amd64", want: Partition{Offset: 2 * mib, Size: 2 * mib}},
		{table: "root32-root64", arch: "amd64", want: Partition{Offset: 2 * mib, Size: 2 * mib}},
		{table: "root32-root64", arch: "386", want: Partition{Offset: mib, Size: mib}},
		{table: "esp-root32", arch: "amd64", want: Partition{Offset: 2 * mib, Size: mib}},
		{table: "root", arch: "arm64", err: ErrNoRootPartition},
		{table: "esp-data", arch: "amd64", want: Partition{Offset: 2 * mib, Size: mib}},
		{table: "esp-data", arch: "mips64", want: Partition{Offset: 2 * mib, Size: mib}},
		{table: "data-data", arch: "amd64", err: ErrNoRootPartition},
		{table: "root-readonly", arch: "amd64", want: Partition{Offset: mib, Size: mib, ReadOnly: true}},
		{table: "root-noauto-data", arch: "amd64", want: Partition{Offset: 2 * mib, Size: mib}},
		{table: "esp", arch: "amd64", err: ErrNoRootPartition},
		{table: "root-ab", arch: "amd64", want: Partition{Offset: 2 * mib, Size: 2 * mib}},
	}
	for _, tc := range tests {
		t.Run(tc.table+"/"+tc.arch, func(t *testing.T) {
			img := make([]byte, 64<<10)
			if tc.table != "" {
				img = table(t, tc.table)
			}
			got, ok, err := rootPartitionFor(bytes.NewReader(img), imageSize, tc.arch)
			if ok != (tc.table != "") || !errors.Is(err, tc.err) {
				t.Fatalf("RootPartition = %+v, %v, %v; want a table: %v, error %v", got, ok, err, tc.table != "", tc.err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("RootPartition (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersionLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"root-9", "root-10", true},
		{"root-10", "root-9", false},
		{"root-1", "root-01", false},
		{"root", "root-1", true},
		{"root-a", "root-b", true},
		{"root-2.1", "root-2.10", true},
		{"", "", false},
	}
	for _, tc := range tests {
		if got := versionLess(tc.a, tc.b); got != tc.want {
			t.Errorf("versionLess(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestRootPartitionCorrupt(t *testing.T) {
	tests := []struct {
		name  string
		size  int64
		patch func(b []byte)
	}{
		{name: "header checksum", size: imageSize, patch: func(b []byte) { b[512+16] ^= 1 }},
		{name: "entries checksum", size: imageSize, patch: func(b []byte) { b[1024+40] ^= 1 }},
		{name: "header size", size: imageSize, patch: func(b []byte) { b[512+12] = 8 }},
		{name: "partition beyond the image", size: 3 << 20, patch: func([]byte) {}},
		{name: "entries beyond the image", size: 16 << 10, patch: func([]byte) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := table(t, "esp-root")
			tc.patch(b)
			_, ok, err := rootPartitionFor(bytes.NewReader(b), tc.size, "amd64")
			if !ok || !errors.Is(err, ErrCorrupt) {
				t.Errorf("RootPartition of a corrupt table = %v, %v; want ErrCorrupt", ok, err)
			}
		})
	}
}

// FuzzRootPartition feeds partition tables and garbage to the reader: it
// must never panic, nor return a partition outside the image.
func FuzzRootPartition(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.gpt"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, int64(imageSize))
	}
	f.Add([]byte("EFI PART"), int64(8))
	f.Add(append(make([]byte, 512), "EFI PART\x00\x00\x01\x00\x5c\x00\x00\x00"...), int64(1<<40))
	f.Fuzz(func(t *testing.T, data []byte, size int64) {
		p, ok, err := rootPartitionFor(bytes.NewReader(data), size, "amd64")
		if err == nil && ok && (p.Offset <= 0 || p.Size <= 0 || p.Offset > size-p.Size) {
			t.Fatalf("partition %+v outside the %d-byte image", p, size)
		}
	})
}
