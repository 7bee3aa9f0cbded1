package machinenet

import "testing"

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		f    Forward
		ok   bool
	}{
		{"good", Forward{"web", "tcp", 1, 2}, true},
		{"bad machine", Forward{"-web", "tcp", 1, 2}, false},
		{"empty machine", Forward{"", "tcp", 1, 2}, false},
		{"bad proto", Forward{"web", "TCP", 1, 2}, false},
		{"host port 0", Forward{"web", "udp", 0, 2}, false},
		{"container port 0", Forward{"web", "udp", 1, 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate(%+v) = %v, want ok %v", tt.f, err, tt.ok)
			}
		})
	}
}
