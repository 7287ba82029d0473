package escalation

import "testing"

func TestDigestSpec(t *testing.T) {
	for _, tt := range []struct{ at, want string }{
		{"08:30", "0 30 8 * * 1-5"},
		{"00:00", "0 0 0 * * 1-5"},
		{"17:05", "0 5 17 * * 1-5"},
	} {
		if got, err := DigestSpec(tt.at); err != nil || got != tt.want {
			t.Errorf("DigestSpec(%q) = %q, %v; want %q", tt.at, got, err, tt.want)
		}
	}
	if _, err := DigestSpec("8 o'clock"); err == nil {
		t.Error("DigestSpec of a bad time: no error")
	}
}
