package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestIntakeMetrics(t *testing.T) {
	m := NewMetrics("acme-it")
	m.Intake(func() Intake { return Intake{Silent: 95 * time.Second, Waiting: 7, OldestWaiting: 130 * time.Second} })
	rec := httptest.NewRecorder()
	Handler(nil, m).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`maildesk_mailbox_silent_seconds{desk="acme-it"} 95`,
		`maildesk_intake_waiting{desk="acme-it"} 7`,
		`maildesk_intake_oldest_waiting_seconds{desk="acme-it"} 130`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
