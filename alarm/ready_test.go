package alarm

import (
	"testing"
	"time"
)

func TestNotReadyAfter(t *testing.T) {
	for _, tt := range []struct{ after, want time.Duration }{
		{15 * time.Minute, 2 * time.Minute},
		{2 * time.Minute, 2 * time.Minute},
		{30 * time.Second, 30 * time.Second},
	} {
		if got := NotReadyAfter(tt.after); got != tt.want {
			t.Errorf("NotReadyAfter(%s) = %s, want %s", tt.after, got, tt.want)
		}
	}
}

func TestFailingFor(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	after := 2 * time.Minute
	tests := []struct {
		name string
		st   State
		want bool
	}{
		{"never tried", State{}, false},
		{"up", State{Known: true, Up: true, LastOK: now}, false},
		{"failing for a minute", State{Known: true, FailingSince: now.Add(-time.Minute)}, false},
		{"failing for 2 minutes", State{Known: true, FailingSince: now.Add(-2 * time.Minute)}, true},
		{"failing for an hour", State{Known: true, FailingSince: now.Add(-time.Hour)}, true},
	}
	for _, tt := range tests {
		if got := tt.st.FailingFor(now, after); got != tt.want {
			t.Errorf("%s: FailingFor = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestProbeDue(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		st   State
		want bool
	}{
		{"never tried", State{}, true},
		{"signed in just now", State{Known: true, Up: true, LastOK: now}, false},
		{"idle 9 minutes", State{Known: true, Up: true, LastOK: now.Add(-9 * time.Minute)}, false},
		{"idle 10 minutes", State{Known: true, Up: true, LastOK: now.Add(-10 * time.Minute)}, true},
		{"idle an hour", State{Known: true, Up: true, LastOK: now.Add(-time.Hour)}, true},
		{"failing since a moment ago", State{Known: true, LastOK: now.Add(-time.Minute), FailingSince: now}, true},
	}
	for _, tt := range tests {
		if got := tt.st.ProbeDue(now); got != tt.want {
			t.Errorf("%s: ProbeDue = %v, want %v", tt.name, got, tt.want)
		}
	}
}
