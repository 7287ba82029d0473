package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/maildesk/maildesk/ticket"
)

// Retention kinds (maildesk_retention_removed_total's kind label).
const (
	retainedTicketAnonymised = "ticket_anonymised"
	retainedTicketDeleted    = "ticket_deleted"
	retainedMessageID        = "message_id"
	retainedRejection        = "rejection_record"
	retainedMail             = "mail"
	retainedRefusedMail      = "refused_mail"
	retainedQuarantinedMail  = "quarantined_mail"
	retainedSentCopy         = "sent_copy"
	retainedDeadLetter       = "dead_letter"
	retainedSkippedEntry     = "skipped_entry"
)

// RetentionMetrics registers maildesk_retention_runs_total,
// maildesk_retention_removed_total (by kind) and
// maildesk_retention_mails_queued, and returns what counts a run's report
// into them: what the GDPR storage limitation removed, per run, for an
// operator to see that it runs and what it does.
func (m *Metrics) RetentionMetrics() func(ticket.RetentionReport) {
	runs := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "maildesk_retention_runs_total", Help: "Retention runs this process made.", ConstLabels: m.labels,
	})
	removed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "maildesk_retention_removed_total", Help: "What retention runs removed, by kind: ticket_anonymised, ticket_deleted, message_id, rejection_record, mail, refused_mail, quarantined_mail, sent_copy, dead_letter, skipped_entry.",
		ConstLabels: m.labels,
	}, []string{"kind"})
	queued := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "maildesk_retention_mails_queued", Help: "Mails of retired or erased tickets waiting to be deleted from the IMAP folders, at the last retention run.",
		ConstLabels: m.labels,
	})
	for _, k := range []string{retainedTicketAnonymised, retainedTicketDeleted, retainedMessageID, retainedRejection, retainedMail,
		retainedRefusedMail, retainedQuarantinedMail, retainedSentCopy, retainedDeadLetter, retainedSkippedEntry} {
		removed.WithLabelValues(k) // every kind from the start: a rate needs its zero
	}
	m.Registry.MustRegister(runs, removed, queued)
	return func(r ticket.RetentionReport) {
		if r.DryRun {
			return
		}
		runs.Inc()
		for _, t := range r.Tickets {
			if t.Action == ticket.ActionDelete {
				removed.WithLabelValues(retainedTicketDeleted).Inc()
			} else {
				removed.WithLabelValues(retainedTicketAnonymised).Inc()
			}
		}
		for k, n := range map[string]int64{retainedMessageID: r.SeenExpired, retainedRejection: r.Rejections, retainedMail: int64(r.Mails),
			retainedRefusedMail: int64(r.RejectedMails), retainedQuarantinedMail: int64(r.QuarantinedMails), retainedSentCopy: int64(r.SentMails),
			retainedDeadLetter: r.DeadLetters, retainedSkippedEntry: r.SkippedEntries} {
			removed.WithLabelValues(k).Add(float64(n))
		}
		queued.Set(float64(r.MailsQueued))
	}
}
