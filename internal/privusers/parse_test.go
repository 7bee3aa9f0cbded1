package privusers

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/chownshift"
	"github.com/berth-dev/berth/internal/idmap"
	"github.com/berth-dev/berth/internal/uidrange"
)

func TestParseUsers(t *testing.T) {
	tests := []struct {
		in      string
		file    bool
		want    Users
		wantErr bool
	}{
		{in: "no", want: Users{Mode: ModeNo}},
		{in: "off", want: Users{Mode: ModeNo}},
		{in: "yes", want: Users{Mode: ModeYes, Range: RangeSize}},
		{in: "True", want: Users{Mode: ModeYes, Range: RangeSize}},
		{in: "pick", want: Users{Mode: ModePick, Range: RangeSize}},
		{in: "identity", want: Users{Mode: ModeIdentity, Range: RangeSize}},
		{in: "0", want: Users{Mode: ModeFixed, Shift: 0, Range: RangeSize}},
		{in: "1", want: Users{Mode: ModeFixed, Shift: 1, Range: RangeSize}},
		{in: "1", file: true, want: Users{Mode: ModeYes, Range: RangeSize}},
		{in: "0", file: true, want: Users{Mode: ModeNo}},
		{in: "524288", want: Users{Mode: ModeFixed, Shift: 524288, Range: RangeSize}},
		{in: "524288:1000", want: Users{Mode: ModeFixed, Shift: 524288, Range: 1000}},
		{in: "4294901760:65535", want: Users{Mode: ModeFixed, Shift: 4294901760, Range: 65535}},
		{in: "4294901760", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "+5", wantErr: true},
		{in: "5:", wantErr: true},
		{in: "5:0", wantErr: true},
		{in: "5:x", wantErr: true},
		{in: "4294967295", wantErr: true},
		{in: "99999999999", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			parse := ParseUsers
			if tc.file {
				parse = ParseUsersFile
			}
			got, err := parse(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestParseOwnership(t *testing.T) {
	for in, want := range map[string]Ownership{"off": OwnershipOff, "chown": OwnershipChown, "map": OwnershipMap, "auto": OwnershipAuto} {
		if got, err := ParseOwnership(in); err != nil || got != want || got.String() != in {
			t.Errorf("ParseOwnership(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "yes", "Chown", "1"} {
		if _, err := ParseOwnership(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseOwnership(%q) accepted", in)
		}
	}
}

func TestValidate(t *testing.T) {
	pick := Users{Mode: ModePick, Range: RangeSize}
	tests := []struct {
		name               string
		u                  Users
		o                  Ownership
		readOnly, volatile bool
		wantEff            Ownership
		wantErr            bool
	}{
		{name: "pick default", u: pick, wantEff: OwnershipAuto},
		{name: "fixed default", u: Users{Mode: ModeFixed, Shift: 0x80000, Range: RangeSize}, wantEff: OwnershipOff},
		{name: "no user namespace", u: Users{Mode: ModeNo}, wantEff: OwnershipOff},
		{name: "chown read-only", u: pick, o: OwnershipChown, readOnly: true, wantEff: OwnershipChown, wantErr: true},
		{name: "chown volatile", u: pick, o: OwnershipChown, volatile: true, wantEff: OwnershipChown, wantErr: true},
		{name: "auto read-only", u: pick, readOnly: true, wantEff: OwnershipAuto},
		{name: "chown unaligned", u: Users{Mode: ModeFixed, Shift: 1000, Range: RangeSize}, o: OwnershipChown, wantEff: OwnershipChown, wantErr: true},
		{name: "chown short range", u: Users{Mode: ModeFixed, Shift: 0x80000, Range: 100}, o: OwnershipChown, wantEff: OwnershipChown, wantErr: true},
		{name: "undo", u: Users{Mode: ModeFixed, Range: RangeSize}, o: OwnershipChown, wantEff: OwnershipChown},
		{name: "map without namespace", u: Users{Mode: ModeNo}, o: OwnershipMap, wantEff: OwnershipMap, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Effective(tc.u, tc.o); got != tc.wantEff {
				t.Errorf("Effective = %v, want %v", got, tc.wantEff)
			}
			if err := Validate(tc.u, tc.o, tc.readOnly, tc.volatile); (err != nil) != tc.wantErr {
				t.Errorf("Validate = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestParseBindOption(t *testing.T) {
	tests := []struct {
		in      string
		want    idmap.Bind
		ok      bool
		wantErr bool
	}{
		{in: "idmap", want: idmap.Bind{Kind: idmap.BindIdmap}, ok: true},
		{in: "noidmap", want: idmap.Bind{Kind: idmap.BindPlain}, ok: true},
		{in: "rootidmap", want: idmap.Bind{Kind: idmap.BindRootIdmap}, ok: true},
		{in: "idmap=1000:0", want: idmap.Bind{Kind: idmap.BindCustom, Host: 1000, Size: 1}, ok: true},
		{in: "idmap=1000:5:10", want: idmap.Bind{Kind: idmap.BindCustom, Host: 1000, Container: 5, Size: 10}, ok: true},
		{in: "idmap=1000:65535:2", ok: true, wantErr: true},
		{in: "idmap=1000", ok: true, wantErr: true},
		{in: "idmap=a:b", ok: true, wantErr: true},
		{in: "idmap=1:2:0", ok: true, wantErr: true},
		{in: "rbind"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok, err := ParseBindOption(tc.in)
			if ok != tc.ok || (err != nil) != tc.wantErr {
				t.Fatalf("ok %v err %v, want ok %v error %v", ok, err, tc.ok, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	r := uidrange.Range{Base: 0x80000, Size: RangeSize}
	unsupported := idmap.ErrUnsupported
	tests := []struct {
		name    string
		eff     Ownership
		st      chownshift.State
		probe   error
		want    Ownership
		wantErr bool
	}{
		{name: "off", eff: OwnershipOff, want: OwnershipOff},
		{name: "chown", eff: OwnershipChown, want: OwnershipChown},
		{name: "auto fresh supported", eff: OwnershipAuto, want: OwnershipMap},
		{name: "auto fresh unsupported", eff: OwnershipAuto, probe: unsupported, want: OwnershipChown},
		{name: "auto shifted elsewhere", eff: OwnershipAuto, st: chownshift.State{Shift: 0x90000}, want: OwnershipChown},
		{name: "auto already ours", eff: OwnershipAuto, st: chownshift.State{Shift: 0x80000}, want: OwnershipOff},
		{name: "auto busy", eff: OwnershipAuto, st: chownshift.State{Shift: chownshift.BusyBase, Busy: true}, want: OwnershipChown},
		{name: "map busy", eff: OwnershipMap, st: chownshift.State{Shift: chownshift.BusyBase, Busy: true}, wantErr: true},
		{name: "map unsupported", eff: OwnershipMap, probe: unsupported, wantErr: true},
		{name: "map", eff: OwnershipMap, want: OwnershipMap},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why, err := decide(tc.eff, tc.st, r, tc.probe)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want || (err == nil && why == "") {
				t.Errorf("decide = %v (%q), want %v", got, why, tc.want)
			}
		})
	}
}

func FuzzParseUsers(f *testing.F) {
	for _, s := range []string{"pick", "0", "524288:65536", "yes", "5:", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUsers(s)
		if err == nil && u.Mode == ModeFixed && (u.Range == 0 || uint64(u.Shift)+uint64(u.Range) > 0xFFFFFFFF) {
			t.Fatalf("accepted bad range %q: %+v", s, u)
		}
	})
}

func FuzzParseBindOption(f *testing.F) {
	for _, s := range []string{"idmap", "idmap=1000:0", "idmap=1:2:3", "ro"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, ok, err := ParseBindOption(s)
		if err == nil && ok && b.Kind == idmap.BindCustom && (b.Size == 0 || uint64(b.Container)+uint64(b.Size) > RangeSize) {
			t.Fatalf("accepted bad mapping %q: %+v", s, b)
		}
	})
}

func TestFlagU(t *testing.T) {
	if got := FlagU(true); got != (Users{Mode: ModePick, Range: RangeSize}) || Effective(got, OwnershipDefault) != OwnershipAuto {
		t.Errorf("-U with user namespaces = %+v", got)
	}
	if got := FlagU(false); got.Mode != ModeNo {
		t.Errorf("-U without user namespaces = %+v, want no user namespace", got)
	}
	if !KernelHasUserNS() {
		t.Error("this kernel has user namespaces")
	}
}
