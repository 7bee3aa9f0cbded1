package dbuswire

import "sync"

// maxInterned bounds the strings an internTable keeps; when it is full,
// it starts over.
const maxInterned = 256

// internTable hands out one string for each value of a header field it
// has seen, so Parse does not allocate the same interface, member, path,
// destination and sender names again for every message. It keeps at
// most maxInterned strings (a bus peer sends many messages with few
// distinct names; a peer that sends many names only empties the table).
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
	if t.m == nil || len(t.m) >= maxInterned {
		t.m = make(map[string]string, maxInterned)
	}
	s := string(b)
	t.m[s] = s
	return s
}
