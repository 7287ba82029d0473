package ingest

import (
	"strings"
	"testing"
	"time"
)

// /readyz judges intake by more than the connection state: a session that
// looks fine but whose server stopped answering, and mail that waits in
// the mailbox, make the replica not ready too.
func TestIntakeReady(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	// alerts.after 15m: not ready after 2m; imap.check_interval 30s.
	after, checkInterval := 2*time.Minute, 30*time.Second
	ago := func(s int) time.Time { return now.Add(-time.Duration(s) * time.Second) }
	tests := []struct {
		name string
		st   Status
		want string // "" ready, else part of the error
	}{
		{"idle, answered at the last check", Status{State: "idle", Up: ago(20), Answered: ago(20)}, ""},
		{"idle, silent for a minute and a half", Status{State: "idle", Up: ago(90), Answered: ago(90)}, ""},
		{"idle, silent for 2 minutes", Status{State: "idle", Up: ago(120), Answered: ago(120)}, "has not answered since"},
		{"waiting for redis, server answers", Status{State: "waiting_for_redis", Up: ago(600), Answered: ago(5)}, ""},
		{"reconnecting for a minute", Status{State: "connecting", Up: ago(60), Answered: ago(60)}, ""},
		{"reconnecting for 3 minutes", Status{State: "disconnected", Up: ago(180), Answered: ago(180), LastError: "dial tcp: refused"}, "down since"},
		{"mail waiting a minute", Status{State: "connected", Up: ago(1), Answered: ago(1), Waiting: 3, OldestWaiting: ago(60)}, ""},
		{"mail waiting 2 minutes, connection fine", Status{State: "waiting_for_redis", Up: ago(1), Answered: ago(1), Waiting: 3, OldestWaiting: ago(120), LastError: "OOM"}, "intake stalled: 3 mails waiting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.st.Ready(now, after, checkInterval)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("not ready: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

func TestJournalReady(t *testing.T) {
	tests := []struct {
		st   JournalStatus
		want string // "" ready
	}{
		{JournalStatus{State: "ok"}, ""},
		{JournalStatus{State: "behind", LastError: "3 missing"}, "redis is behind the mailbox journal (it lost writes): intake and mail to customers held while it is repaired: 3 missing"},
		{JournalStatus{State: "unchecked"}, "redis not yet compared with the mailbox journal (intake and mail to customers held)"},
		{JournalStatus{State: "unchecked", LastError: "dial: refused"}, "redis not yet compared with the mailbox journal (intake and mail to customers held): dial: refused"},
	}
	for _, tt := range tests {
		got := ""
		if err := tt.st.Ready(); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: %q, want %q", tt.st.State, got, tt.want)
		}
	}
}
