package machine1

import (
	"strings"
	"testing"
	"unsafe"
)

// TestUIDCacheTableSize keeps the cache's table in the 4 KiB size class
// the registry's string chunks use: a class of its own costs berthd the
// runtime's bookkeeping for it.
func TestUIDCacheTableSize(t *testing.T) {
	if got := unsafe.Sizeof([uidSlots]uidSlot{}); got != 4096 {
		t.Errorf("uid cache table is %d bytes, want 4096", got)
	}
}

// TestUIDCache caches unique names up to maxCachedName bytes, and a name
// that hashes to a taken slot evicts the one there.
func TestUIDCache(t *testing.T) {
	var c uidCache
	if _, ok := c.get(":1.1"); ok {
		t.Fatal("empty cache has :1.1")
	}
	long := ":1." + strings.Repeat("9", maxCachedName-2)
	fits := long[:maxCachedName]
	c.put(":1.1", 1000)
	c.put(fits, 7)
	c.put(long, 8)
	c.put("", 9)
	for _, tc := range []struct {
		name string
		uid  uint32
		ok   bool
	}{
		{":1.1", 1000, true},
		{fits, 7, true},
		{long, 0, false},
		{"", 0, false},
		{":1.2", 0, false},
	} {
		uid, ok := c.get(tc.name)
		if uid != tc.uid || ok != tc.ok {
			t.Errorf("get(%q) = %d, %v; want %d, %v", tc.name, uid, ok, tc.uid, tc.ok)
		}
	}
	// Find a name in :1.1's slot: it evicts :1.1.
	for i := 2; ; i++ {
		name := ":1." + strings.Repeat("0", i%5) + string(rune('a'+i%26)) + strings.Repeat("1", i/26%20)
		if c.slot(name) != c.slot(":1.1") {
			continue
		}
		c.put(name, 5)
		if uid, ok := c.get(name); !ok || uid != 5 {
			t.Errorf("get(%q) = %d, %v after put", name, uid, ok)
		}
		if _, ok := c.get(":1.1"); ok {
			t.Errorf(":1.1 still cached after %q took its slot", name)
		}
		return
	}
}
