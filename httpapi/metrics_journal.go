package httpapi

import "github.com/prometheus/client_golang/prometheus"

// JournalStatus is what the journal metrics read at each scrape
// (ingest.Journal's status).
type JournalStatus struct {
	// InStep: Redis was last found in step with the mailbox journal.
	InStep bool
	// Missing is what Redis lacked at the last comparison; Repairs how
	// many repairs this process ran.
	Missing, Repairs int
}

// Journal registers maildesk_journal_in_step, maildesk_journal_missing and
// maildesk_journal_repairs_total, read from status at each scrape.
func (m *Metrics) Journal(status func() JournalStatus) {
	gauge := func(name, help string, v func(JournalStatus) float64) prometheus.GaugeFunc {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: m.labels}, func() float64 { return v(status()) })
	}
	m.Registry.MustRegister(
		gauge("maildesk_journal_in_step", "1 while Redis is known to be in step with the mailbox journal; 0 while it is behind (it lost writes: intake and mail to customers are held while it is repaired) or not yet compared.",
			func(s JournalStatus) float64 {
				if s.InStep {
					return 1
				}
				return 0
			}),
		gauge("maildesk_journal_missing", "Journal entries (filed mails' outcomes, sent mail) Redis lacked at the last comparison.",
			func(s JournalStatus) float64 { return float64(s.Missing) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "maildesk_journal_repairs_total", Help: "Repairs of Redis from the mailbox journal run by this process.", ConstLabels: m.labels},
			func() float64 { return float64(status().Repairs) }))
}
