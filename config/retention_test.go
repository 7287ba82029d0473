package config

import (
	"strings"
	"testing"
	"time"
)

func TestRetentionConfig(t *testing.T) {
	const day = 24 * time.Hour
	cfg, ps := parseWith(t, base, nil, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	if r := cfg.Retention; r.ClosedAfter != 0 || r.Keep != 0 || r.Seen.D() != 365*day || r.Interval.D() != time.Hour || r.Batch != 1000 ||
		r.Quarantine.D() != 90*day || r.Outbox.D() != 90*day {
		t.Errorf("defaults = %+v", r)
	}
	cfg, ps = parseWith(t, base+"retention:\n  closed_after: 2y\n  keep: 104w\n  seen: 400d\n  interval: 30m\n  batch: 50\n  quarantine: 0\n", nil,
		map[string]string{"MAILDESK_RETENTION_KEEP": "7y", "MAILDESK_RETENTION_OUTBOX": "30d"})
	if ps != nil {
		t.Fatal(ps)
	}
	if r := cfg.Retention; r.ClosedAfter.D() != 730*day || r.Keep.D() != 7*365*day || r.Seen.D() != 400*day || r.Interval.D() != 30*time.Minute || r.Batch != 50 ||
		r.Quarantine != 0 || r.Outbox.D() != 30*day {
		t.Errorf("set = %+v", r)
	}
	for _, tc := range []struct {
		yaml string
		env  map[string]string
		path string
		want string
	}{
		{yaml: "retention:\n  closed_after: soon\n", path: "retention.closed_after", want: "must be an age like 2y, 90d, 2w or 36h, or 0"},
		{yaml: "retention:\n  closed_after: 2y\n  keep: 1y\n", path: "retention.keep", want: "must be at least retention.closed_after (2y)"},
		{yaml: "retention:\n  closed_after: 1h\n", path: "retention.closed_after", want: "must be at least 1d"},
		{yaml: "retention:\n  seen: 1d\n", path: "retention.seen", want: "must be at least 7d"},
		{yaml: "retention:\n  interval: 10s\n", path: "retention.interval", want: "at least"},
		{yaml: "retention:\n  batch: 0\n", path: "retention.batch", want: "must be from 1 to 100000"},
		{yaml: "retention:\n  quarantine: 2d\n", path: "retention.quarantine", want: "must be at least 7d, or 0 for never"},
		{yaml: "retention:\n  quarantine: -1d\n", path: "retention.quarantine", want: "must be an age like"},
		{yaml: "retention:\n  outbox: 36h\n", path: "retention.outbox", want: "must be at least 7d, or 0 for never"},
		{env: map[string]string{"MAILDESK_RETENTION_OUTBOX": "never"}, path: "env MAILDESK_RETENTION_OUTBOX", want: "must be an age like"},
		{env: map[string]string{"MAILDESK_RETENTION_SEEN": "forever"}, path: "env MAILDESK_RETENTION_SEEN", want: "must be an age like"},
	} {
		_, ps := parseWith(t, base+tc.yaml, nil, tc.env)
		found := false
		for _, p := range ps {
			found = found || p.Path == tc.path && strings.Contains(p.Reason, tc.want)
		}
		if !found || len(ps) != 1 {
			t.Errorf("%q %v: problems %v, want one at %s: %q", tc.yaml, tc.env, ps, tc.path, tc.want)
		}
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "2y": 2 * 365 * 24 * time.Hour, "90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour,
		"36h": 36 * time.Hour, " 1y ": 365 * 24 * time.Hour} {
		got, err := ParseAge(in)
		if err != nil || got.D() != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, got.D(), err, want)
		}
		if again, err := ParseAge(got.String()); err != nil || again != got {
			t.Errorf("%q does not round-trip through %q", in, got.String())
		}
	}
	for _, bad := range []string{"", "y", "-1d", "2.5y", "1 year", "1001y"} {
		if _, err := ParseAge(bad); err == nil {
			t.Errorf("ParseAge(%q) took it", bad)
		}
	}
}
