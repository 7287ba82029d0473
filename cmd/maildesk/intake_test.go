package main

import (
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ingest"
)

// /readyz judges intake by more than the connection state: a session that
// looks fine but whose server stopped answering, and mail that waits in
// the mailbox, make the replica not ready too.
func TestIntakeReady(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	d := &daemon{cfg: &config.Config{}}
	d.cfg.Alerts.After = config.Duration(15 * time.Minute) // not ready after 2m
	d.cfg.IMAP.CheckInterval = config.Duration(30 * time.Second)
	ago := func(s int) time.Time { return now.Add(-time.Duration(s) * time.Second) }
	tests := []struct {
		name string
		st   ingest.Status
		want string // "" ready, else part of the error
	}{
		{"idle, answered at the last check", ingest.Status{State: "idle", Up: ago(20), Answered: ago(20)}, ""},
		{"idle, silent for a minute and a half", ingest.Status{State: "idle", Up: ago(90), Answered: ago(90)}, ""},
		{"idle, silent for 2 minutes", ingest.Status{State: "idle", Up: ago(120), Answered: ago(120)}, "has not answered since"},
		{"waiting for redis, server answers", ingest.Status{State: "waiting_for_redis", Up: ago(600), Answered: ago(5)}, ""},
		{"reconnecting for a minute", ingest.Status{State: "connecting", Up: ago(60), Answered: ago(60)}, ""},
		{"reconnecting for 3 minutes", ingest.Status{State: "disconnected", Up: ago(180), Answered: ago(180), LastError: "dial tcp: refused"}, "down since"},
		{"mail waiting a minute", ingest.Status{State: "connected", Up: ago(1), Answered: ago(1), Waiting: 3, OldestWaiting: ago(60)}, ""},
		{"mail waiting 2 minutes, connection fine", ingest.Status{State: "waiting_for_redis", Up: ago(1), Answered: ago(1), Waiting: 3, OldestWaiting: ago(120), LastError: "OOM"}, "intake stalled: 3 mails waiting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.intakeReady(tt.st, now)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("not ready: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}
