package dbuswire

import "sync"

// maxInterned bounds the strings an internTable keeps.
const maxInterned = 256

// internTable hands out one string for each value of a header field it
// has seen, so Parse does not allocate the same interface, member, path,
// destination and sender names again for every message. It keeps at
// most maxInterned strings: a bus peer sends many messages with few
// distinct names. When it is full, a new string takes the place of one
// kept string picked at random (map order), so a stream of new names (a
// new connection's unique name for each call, as spawners register)
// costs one string each, and never a new table.
type internTable struct {
	mu sync.Mutex
	m  map[string]string
}

// headerStrings is the table of Parse's header fields.
var headerStrings internTable

// get returns b as a string, the one kept if there is one; nil (after a
// decoding error) is "".
func (t *internTable) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.m[string(b)]; ok {
		return s
	}
	if t.m == nil {
		t.m = make(map[string]string, maxInterned)
	}
	if len(t.m) >= maxInterned {
		for k := range t.m {
			delete(t.m, k)
			break
		}
	}
	s := string(b)
	t.m[s] = s
	return s
}
