package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Retention is how long the desk keeps what it holds about people
// (GDPR storage limitation): tickets after they are done, the Message-IDs
// it remembers, and with them the original mails in the IMAP folders.
// Retention of tickets is the operator's decision (a contract, a policy):
// off by default. The Message-IDs need no personal decision, and a year
// covers any replay and nearly every late reply.
type Retention struct {
	// ClosedAfter: a resolved or closed ticket unchanged this long loses
	// its personal data (text, quoted history, subject, addresses, names,
	// history) and its mails; an anonymous record stays for reports. 0:
	// never.
	ClosedAfter Age `yaml:"closed_after" default:"0"`
	// Keep: the anonymous record, too, goes once the ticket has been done
	// this long. 0: never.
	Keep Age `yaml:"keep" default:"0"`
	// Seen is how long the Message-IDs of handled and sent mail are kept at
	// least (at most twice as long): what makes a replayed mail a no-op and
	// threads a reply that lost its subject tag.
	Seen Age `yaml:"seen" default:"1y"`
	// Quarantine is how long mails stay in the quarantine folder (mail the
	// desk could not read, kept for an operator to look at). 0: for ever.
	// As long as the rejection records: what went wrong with a mail, in or
	// out, is looked into within a quarter or not at all.
	Quarantine Age `yaml:"quarantine" default:"90d"`
	// Sent is how long the desk's copies of the mail it sent stay in
	// imap.sent_mailbox (they hold recipients and texts). 0: for ever.
	// The mailbox journal compares the last 7 days of them with Redis.
	Sent Age `yaml:"sent" default:"90d"`
	// Outbox is how long the outbox's dead letters and skipped entries
	// (recipients, subjects, texts) are kept. 0: for ever.
	Outbox Age `yaml:"outbox" default:"90d"`
	// Interval is how often the retention job runs (once per tick across
	// replicas); Batch the most tickets one run handles.
	Interval Duration `yaml:"interval" default:"1h"`
	Batch    int      `yaml:"batch" default:"1000"`
}

// Age is a length of time written as a Go duration ("36h") or in days,
// weeks or years ("90d", "2w", "2y"; a year is 365 days).
type Age time.Duration

// D returns p as a time.Duration.
func (p Age) D() time.Duration { return time.Duration(p) }

func (p Age) String() string {
	d := time.Duration(p)
	const day = 24 * time.Hour
	switch {
	case d == 0:
		return "0"
	case d%(365*day) == 0:
		return strconv.FormatInt(int64(d/(365*day)), 10) + "y"
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

// ParseAge reads an Age.
func ParseAge(s string) (Age, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "y": 365 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			// A time.Duration reaches 292 years; 200 is plenty.
			if err != nil || v < 0 || v > int64(200*365*24*time.Hour/unit) {
				break
			}
			return Age(time.Duration(v) * unit), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		return Age(d), nil
	}
	return 0, fmt.Errorf("must be an age like 2y, 90d, 2w or 36h, or 0 (got %q)", s)
}

// UnmarshalYAML: see Duration.UnmarshalYAML.
func (p *Age) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if v, err := ParseAge(n.Value); err == nil {
			*p = v
			return nil
		}
	}
	return nodeError(n, "must be an age like 2y, 90d, 2w or 36h, or 0")
}

func (p Age) MarshalYAML() (any, error) { return p.String(), nil }

// setText is how an environment variable sets an Age.
func (p *Age) setText(s string) error {
	v, err := ParseAge(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

func (l *loader) validateRetention() {
	c, r := l.c, &l.cfg.Retention
	for _, k := range []struct {
		path string
		v    Age
	}{{"retention.closed_after", r.ClosedAfter}, {"retention.keep", r.Keep}, {"retention.seen", r.Seen},
		{"retention.quarantine", r.Quarantine}, {"retention.sent", r.Sent}, {"retention.outbox", r.Outbox}} {
		if k.v < 0 {
			c.Addf(k.path, "must not be negative (got %s)", k.v.D())
		}
	}
	// What waits for an operator (an unreadable mail, a mail given up on)
	// must not go before anybody could have looked at it.
	if r.Quarantine > 0 && r.Quarantine < Age(7*24*time.Hour) {
		c.Addf("retention.quarantine", "must be at least 7d, or 0 for never: an operator must have time to look at an unreadable mail (got %s)", r.Quarantine)
	}
	if r.Sent > 0 && r.Sent < Age(7*24*time.Hour) {
		c.Addf("retention.sent", "must be at least 7d, or 0 for never: the mailbox journal compares the last 7 days of sent mail with Redis (got %s)", r.Sent)
	}
	if r.Outbox > 0 && r.Outbox < Age(7*24*time.Hour) {
		c.Addf("retention.outbox", "must be at least 7d, or 0 for never: an operator must have time to retry a dead letter (got %s)", r.Outbox)
	}
	if r.ClosedAfter > 0 && r.ClosedAfter < Age(24*time.Hour) {
		c.Addf("retention.closed_after", "must be at least 1d, or 0 for never: a ticket is reopened by a reply for desk.reopen_days (got %s)", r.ClosedAfter)
	}
	if r.Keep > 0 && r.Keep < r.ClosedAfter {
		c.Addf("retention.keep", "must be at least retention.closed_after (%s), or 0 for never (got %s)", r.ClosedAfter, r.Keep)
	}
	if r.Seen < Age(7*24*time.Hour) {
		c.Addf("retention.seen", "must be at least 7d: a mail replayed within it (a crash, a restore) would make a second ticket (got %s)", r.Seen)
	}
	l.atLeast("retention.interval", r.Interval, time.Minute)
	if r.Batch < 1 || r.Batch > 100_000 {
		c.Addf("retention.batch", "must be from 1 to 100000 (got %d)", r.Batch)
	}
}
