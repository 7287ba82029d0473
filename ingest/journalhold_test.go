package ingest

import (
	"testing"
	"time"

	"github.com/maildesk/maildesk/notify"
)

// Until Redis is compared with the journal the outbox is not drained for
// a minute, then drained for the operators' alarms only; once in step
// everything goes.
func TestJournalHoldsMail(t *testing.T) {
	j := NewJournal(JournalConfig{}, nil, nil, &Pipeline{})
	since := j.Status().Since
	ack := notify.Notification{ID: "SD-1/ack", Kind: notify.Ack}
	alarm := notify.Notification{ID: "alarm", Kind: notify.AlarmDown}
	tests := []struct {
		name        string
		state       string
		at          time.Time
		holdsOutbox bool
		holdsAck    bool
		holdsAlarm  bool
	}{
		{"unchecked, just now", "unchecked", since, true, true, false},
		{"unchecked for a minute", "unchecked", since.Add(time.Minute), false, true, false},
		{"behind", "behind", since, true, true, false},
		{"in step", "ok", since, false, false, false},
	}
	for _, tt := range tests {
		j.setStatus(func(s *JournalStatus) { s.State = tt.state })
		j.setStatus(func(s *JournalStatus) { s.Since = since })
		if got := j.HoldsOutbox(tt.at); got != tt.holdsOutbox {
			t.Errorf("%s: HoldsOutbox = %v, want %v", tt.name, got, tt.holdsOutbox)
		}
		if got := j.Hold(ack) != nil; got != tt.holdsAck {
			t.Errorf("%s: acknowledgement held = %v, want %v", tt.name, got, tt.holdsAck)
		}
		if got := j.Hold(alarm) != nil; got != tt.holdsAlarm {
			t.Errorf("%s: alarm held = %v, want %v", tt.name, got, tt.holdsAlarm)
		}
	}
}
