package machine

import (
	"slices"
	"strings"
)

// byName is the registry's index: its entries sorted by machine name. A
// slice costs one pointer per machine where a map costs several times
// that (slots, control bytes, a load factor below one), lookups are a
// binary search, and List needs no sorting.
type byName []*entry

// find returns where name is or would be, and whether it is there.
func (x byName) find(name string) (int, bool) {
	return slices.BinarySearchFunc(x, name, func(e *entry, name string) int { return strings.Compare(e.name(), name) })
}

// get returns the entry of name, or nil.
func (x byName) get(name string) *entry {
	if i, ok := x.find(name); ok {
		return x[i]
	}
	return nil
}

// put adds or replaces the entry of e's name.
func (x *byName) put(e *entry) {
	i, ok := x.find(e.name())
	if ok {
		(*x)[i] = e
		return
	}
	*x = slices.Insert(*x, i, e)
}

// del removes the entry of name, if any.
func (x *byName) del(name string) {
	if i, ok := x.find(name); ok {
		*x = slices.Delete(*x, i, i+1)
	}
}
