package machine

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestByName adds, replaces and removes entries and checks the index
// stays sorted and finds what it holds.
func TestByName(t *testing.T) {
	var d dense
	named := func(n string) *entry {
		e := d.entry()
		d.keep(e, Machine{Spec: Spec{Name: n}}, "")
		return e
	}
	var x byName
	for _, n := range []string{"m", "a", "z", "b", "m"} {
		x.put(named(n))
	}
	x.del("z")
	x.del("missing")
	var got []string
	for _, e := range x {
		got = append(got, e.name())
	}
	if diff := cmp.Diff([]string{"a", "b", "m"}, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name string
		want bool
	}{{"a", true}, {"b", true}, {"m", true}, {"z", false}, {"", false}} {
		if found := x.get(tc.name) != nil; found != tc.want {
			t.Errorf("get(%q) found = %v, want %v", tc.name, found, tc.want)
		}
	}
}
