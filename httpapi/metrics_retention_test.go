package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/ticket"
)

// What retention runs remove is counted per kind; a dry run counts
// nothing.
func TestRetentionMetrics(t *testing.T) {
	m := NewMetrics("acme-it")
	count := m.RetentionMetrics()
	r := ticket.RetentionReport{Tickets: []ticket.Retired{{Action: ticket.ActionAnonymise}, {Action: ticket.ActionAnonymise}, {Action: ticket.ActionDelete}},
		SeenExpired: 40, Rejections: 5, Mails: 6, RejectedMails: 2, QuarantinedMails: 1, DeadLetters: 3, SkippedEntries: 4, MailsQueued: 9}
	count(r)
	count(r)
	r.DryRun = true
	count(r)
	rec := httptest.NewRecorder()
	Handler(nil, m).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`maildesk_retention_runs_total{desk="acme-it"} 2`,
		`maildesk_retention_removed_total{desk="acme-it",kind="ticket_anonymised"} 4`,
		`maildesk_retention_removed_total{desk="acme-it",kind="ticket_deleted"} 2`,
		`maildesk_retention_removed_total{desk="acme-it",kind="message_id"} 80`,
		`maildesk_retention_removed_total{desk="acme-it",kind="rejection_record"} 10`,
		`maildesk_retention_removed_total{desk="acme-it",kind="mail"} 12`,
		`maildesk_retention_removed_total{desk="acme-it",kind="refused_mail"} 4`,
		`maildesk_retention_removed_total{desk="acme-it",kind="quarantined_mail"} 2`,
		`maildesk_retention_removed_total{desk="acme-it",kind="dead_letter"} 6`,
		`maildesk_retention_removed_total{desk="acme-it",kind="skipped_entry"} 8`,
		`maildesk_retention_mails_queued{desk="acme-it"} 9`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
