package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/paths"
)

func TestHostPaths(t *testing.T) {
	for _, tc := range []struct {
		name, root string
		want       paths.Paths
		wantErr    bool
	}{
		{name: "unset", want: paths.Default()},
		{name: "root", root: "/tmp/r/", want: paths.Under("/tmp/r")},
		{name: "relative", root: "tmp/r", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hostPaths(func(k string) string {
				if k == rootEnv {
					return tc.root
				}
				return ""
			})
			if (err != nil) != tc.wantErr {
				t.Fatalf("hostPaths: %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("hostPaths (-want +got):\n%s", diff)
			}
		})
	}
}
