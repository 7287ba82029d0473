package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseSince(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"", time.Time{}, true},
		{"2026-11-20", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), true},
		{"2026-11-20T09:30:00+01:00", time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC), true},
		{"yesterday", time.Time{}, false},
		{"2026-13-01", time.Time{}, false},
	} {
		got, err := parseSince(tt.in)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// A bad --since is a usage error that names the flag, before anything is
// opened.
func TestRepairUsage(t *testing.T) {
	for _, args := range [][]string{
		{"repair", "--config", "x.yaml", "--since", "last week"},
		{"repair", "--config", "x.yaml", "SD-1"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "repair") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut.String())
		}
	}
}
