package nspawnopts

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOptionTable(t *testing.T) {
	shorts := map[byte]string{}
	for i, o := range options {
		if i > 0 && options[i-1].long >= o.long {
			t.Errorf("options not sorted by long name: %q before %q", options[i-1].long, o.long)
		}
		if o.short != 0 {
			if prev, ok := shorts[o.short]; ok {
				t.Errorf("-%c is both --%s and --%s", o.short, prev, o.long)
			}
			shorts[o.short] = o.long
		}
		switch o.target(&raw{}).(type) {
		case *string, *bool, *[]string, taggedList:
		default:
			t.Errorf("--%s: target of unknown type", o.long)
		}
		if _, ok := o.target(&raw{}).(*string); !ok && (o.def != "" || o.bare != "") {
			t.Errorf("--%s: a default or bare value on an option that is no string", o.long)
		}
	}
}

func TestParseArgs(t *testing.T) {
	type result struct {
		Directory, Machine, Volatile, Users string
		Quiet, Boot                         bool
		Env                                 []string
		Binds                               []string
		Command                             []string
	}
	get := func(r *raw, cmd []string) result {
		var binds []string
		for _, b := range r.binds {
			binds = append(binds, map[bool]string{false: "rw:", true: "ro:"}[b.ro]+b.value)
		}
		return result{r.directory, r.machine, r.volatile, r.users.users, r.quiet, r.boot, r.env, binds, cmd}
	}
	def := result{Volatile: VolatileNo}
	with := func(f func(*result)) result { r := def; f(&r); return r }
	for _, tc := range []struct {
		name string
		args []string
		want result
	}{
		{"none", nil, def},
		{"long with =", []string{"--directory=/a"}, with(func(r *result) { r.Directory = "/a" })},
		{"long with next word", []string{"--directory", "-x"}, with(func(r *result) { r.Directory = "-x" })},
		{"short with next word", []string{"-D", "/a"}, with(func(r *result) { r.Directory = "/a" })},
		{"short glued", []string{"-D/a"}, with(func(r *result) { r.Directory = "/a" })},
		{"short with =", []string{"-E=A=1"}, with(func(r *result) { r.Env = []string{"A=1"} })},
		{"cluster ends in a value", []string{"-qbMm"}, with(func(r *result) { r.Quiet, r.Boot, r.Machine = true, true, "m" })},
		{"cluster, value in next word", []string{"-qM", "m"}, with(func(r *result) { r.Quiet, r.Machine = true, "m" })},
		{"switch with value", []string{"--boot=true", "-q=0"}, with(func(r *result) { r.Boot = true })},
		{"bare value", []string{"--volatile", "/cmd"}, with(func(r *result) { r.Volatile, r.Command = VolatileYes, []string{"/cmd"} })},
		{"bare value given", []string{"--volatile=state", "--private-users"},
			with(func(r *result) { r.Volatile, r.Users = VolatileState, "yes" })},
		{"last value wins", []string{"-M", "a", "--machine=b"}, with(func(r *result) { r.Machine = "b" })},
		{"lists keep order", []string{"-E", "A", "--setenv=B", "--bind=/x", "--bind-ro=/y", "--bind=/z"},
			with(func(r *result) { r.Env, r.Binds = []string{"A", "B"}, []string{"rw:/x", "ro:/y", "rw:/z"} })},
		{"command stops options", []string{"-q", "ls", "-l", "--all"}, with(func(r *result) { r.Quiet, r.Command = true, []string{"ls", "-l", "--all"} })},
		{"double dash", []string{"--", "-q"}, with(func(r *result) { r.Command = []string{"-q"} })},
		{"single dash is a word", []string{"-", "-q"}, with(func(r *result) { r.Command = []string{"-", "-q"} })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRaw()
			var set given
			cmd, err := r.parseArgs(tc.args, &set)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, get(r, cmd)); diff != "" {
				t.Errorf("parseArgs(%q) (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "unknown flag: --nope"},
		{[]string{"--nope=1"}, "unknown flag: --nope"},
		{[]string{"-qz"}, `unknown shorthand flag: 'z' in -z`},
		{[]string{"-D"}, `flag needs an argument: 'D' in -D`},
		{[]string{"-qD"}, `flag needs an argument: 'D' in -D`},
		{[]string{"--machine"}, "flag needs an argument: --machine"},
		{[]string{"---x"}, "bad flag syntax: ---x"},
		{[]string{"--=x"}, "bad flag syntax: --=x"},
		{[]string{"--boot=maybe"}, `invalid argument "maybe" for "-b, --boot" flag: must be true or false`},
		{[]string{"--keep-unit=2"}, `invalid argument "2" for "--keep-unit" flag: must be true or false`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var set given
			_, err := newRaw().parseArgs(tc.args, &set)
			if err == nil || err.Error() != tc.want {
				t.Errorf("parseArgs(%q) = %v, want %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestWriteUsage(t *testing.T) {
	var b strings.Builder
	if err := writeUsage(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []string{
		"  -D, --directory string                   root directory for the container",
		"      --keep-unit[=true|false]             stay in the caller's unit",
		"      --private-users string[=\"yes\"]       no|yes|pick|identity|SHIFT[:RANGE]: user namespace",
		"  -E, --setenv stringArray                 NAME[=VALUE] for the command's environment",
		"      --volatile string[=\"yes\"]            yes|state|overlay: volatile root (default \"no\")",
	}
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("usage lacks %q:\n%s", w, b.String())
		}
	}
	if strings.Contains(b.String(), "private-users-pick") {
		t.Errorf("usage lists the hidden --private-users-pick")
	}
	if got, want := len(lines), len(options)-1; got != want {
		t.Errorf("usage has %d lines, want %d", got, want)
	}
}

func FuzzParseArgs(f *testing.F) {
	f.Add("-qbMm\x00--volatile\x00/cmd")
	f.Add("-E=A=1\x00--bind-ro=/y\x00--\x00-q")
	f.Add("--boot=maybe\x00-D")
	f.Fuzz(func(t *testing.T, s string) {
		var set given
		_, _ = newRaw().parseArgs(strings.Split(s, "\x00"), &set)
	})
}
