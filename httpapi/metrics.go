package httpapi

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are maildesk's Prometheus metrics, served at /metrics.
type Metrics struct {
	Registry   *prometheus.Registry
	mails      *prometheus.CounterVec
	authFailed prometheus.Counter
	latency    prometheus.Histogram
	reconnects prometheus.Counter
	slaAlerts  *prometheus.CounterVec
	tickets    prometheus.Counter
	notes      *prometheus.CounterVec
	signIn     *prometheus.CounterVec
	labels     prometheus.Labels
}

// NewMetrics registers the metrics of one desk.
func NewMetrics(desk string) *Metrics {
	labels := prometheus.Labels{"desk": desk}
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		mails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "maildesk_mails_total", Help: "Mails handled, by outcome (processed, rejected, quarantined), kind and loop class.",
			ConstLabels: labels,
		}, []string{"outcome", "kind", "class"}),
		authFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "maildesk_authentication_failures_total", Help: "Mails refused because their From domain was not authenticated.",
			ConstLabels: labels,
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "maildesk_mail_processing_seconds", Help: "Time from the start of a mail's body to its committed outcome.",
			ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "maildesk_imap_reconnects_total", Help: "IMAP sessions that ended and were re-established.",
			ConstLabels: labels,
		}),
		tickets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "maildesk_tickets_created_total", Help: "Tickets made from mail.",
			ConstLabels: labels,
		}),
		notes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "maildesk_notifications_total", Help: "Outgoing mails by result: sent, skipped (suppressed, rate-limited, sent before), failed (will be retried, or held back by the desk limit), dead (dead-lettered).",
			ConstLabels: labels,
		}, []string{"result"}),
		slaAlerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "maildesk_sla_alerts_total", Help: "SLA alerts queued, by kind (warning, breach); late ones (sent after downtime) also as kind late.",
			ConstLabels: labels,
		}, []string{"kind"}),
	}
	m.signIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "maildesk_signin_failures_total", Help: "Failed attempts to connect and sign in, by server (imap, smtp) and reason (refused, token_<OAuth2 error code>, token_unreachable, no_grant, timeout, tls, connect, other).",
		ConstLabels: labels,
	}, []string{"server", "reason"})
	m.labels = labels
	m.Registry.MustRegister(m.mails, m.authFailed, m.latency, m.reconnects, m.slaAlerts, m.tickets, m.notes, m.signIn,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Mail counts one mail: its outcome (processed, rejected, quarantined),
// kind (new, follow_up, replay) and loop class; took is fetch to commit.
func (m *Metrics) Mail(outcome, kind, class string, authFailed bool, took time.Duration) {
	m.mails.WithLabelValues(outcome, kind, class).Inc()
	if outcome == "processed" && kind == "new" {
		m.tickets.Inc()
	}
	if authFailed {
		m.authFailed.Inc()
	}
	if took > 0 {
		m.latency.Observe(took.Seconds())
	}
}

// Reconnected counts an IMAP reconnect.
func (m *Metrics) Reconnected() { m.reconnects.Inc() }

// SLAAlerts counts the alerts one sweep queued.
func (m *Metrics) SLAAlerts(warnings, breaches, late int) {
	m.slaAlerts.WithLabelValues("warning").Add(float64(warnings))
	m.slaAlerts.WithLabelValues("breach").Add(float64(breaches))
	m.slaAlerts.WithLabelValues("late").Add(float64(late))
}

// Notifications counts what one outbox drain did; uncertain are sends the
// relay did not answer after the whole message went out.
func (m *Metrics) Notifications(sent, skipped, failed, dead, uncertain int) {
	for result, n := range map[string]int{"sent": sent, "skipped": skipped, "failed": failed, "dead": dead, "uncertain": uncertain} {
		m.notes.WithLabelValues(result).Add(float64(n))
	}
}

// OutboxDepth makes the gauge maildesk_outbox_depth report depth(), the
// notifications waiting to be sent, at each scrape.
func (m *Metrics) OutboxDepth(depth func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "maildesk_outbox_depth", Help: "Notifications waiting in the outbox (new and being retried).",
		ConstLabels: m.labels,
	}, depth))
}

// SignInFailed counts one failed attempt to connect and sign in to server
// (imap, smtp), by reason (signin.Reason).
func (m *Metrics) SignInFailed(server, reason string) {
	m.signIn.WithLabelValues(server, reason).Inc()
}

// Reachable registers maildesk_mailbox_up and maildesk_smtp_up: 1 while the
// last attempt to connect and sign in worked (or none was made here: a
// standby replica does not fetch), 0 while it fails.
func (m *Metrics) Reachable(mailbox, smtp func() bool) {
	gauge := func(name, help string, up func() bool) prometheus.GaugeFunc {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: m.labels}, func() float64 {
			if up() {
				return 1
			}
			return 0
		})
	}
	m.Registry.MustRegister(
		gauge("maildesk_mailbox_up", "1 while the desk reaches and signs in to its mailbox (or, on a standby replica, nothing failed), 0 while that fails.", mailbox),
		gauge("maildesk_smtp_up", "1 while the desk reaches and signs in to its SMTP relay (or has not needed it yet), 0 while that fails.", smtp))
}

// CredentialExpiry registers maildesk_credential_expiry_seconds: the time
// left until the OAuth2 client secret or certificate expires (negative once
// it has).
func (m *Metrics) CredentialExpiry(expiry time.Time, credential string) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "maildesk_credential_expiry_seconds", Help: "Seconds until the OAuth2 client secret or certificate the desk signs in with expires.",
		ConstLabels: prometheus.Labels{"desk": m.labels["desk"], "credential": credential},
	}, func() float64 { return time.Until(expiry).Seconds() }))
}

// Intake is the state of a desk's mail intake, for Intake.
type Intake struct {
	// Silent is how long the mailbox server has not answered.
	Silent time.Duration
	// Waiting are the mails found in the mailbox and not handled yet;
	// OldestWaiting is how long ago the oldest of them was found.
	Waiting       int
	OldestWaiting time.Duration
}

// Intake registers maildesk_mailbox_silent_seconds,
// maildesk_intake_waiting and maildesk_intake_oldest_waiting_seconds,
// read from state at each scrape: a stalled intake shows here even while
// the connection looks up.
func (m *Metrics) Intake(state func() Intake) {
	gauge := func(name, help string, v func(Intake) float64) prometheus.GaugeFunc {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: m.labels}, func() float64 { return v(state()) })
	}
	m.Registry.MustRegister(
		gauge("maildesk_mailbox_silent_seconds", "Seconds since the mailbox server last answered a command; a healthy session answers at least every imap.check_interval (0 on a standby replica).",
			func(in Intake) float64 { return in.Silent.Seconds() }),
		gauge("maildesk_intake_waiting", "Mails found in the mailbox and not handled yet.",
			func(in Intake) float64 { return float64(in.Waiting) }),
		gauge("maildesk_intake_oldest_waiting_seconds", "Seconds since the oldest mail found in the mailbox and not handled yet was found (0 when none waits).",
			func(in Intake) float64 { return in.OldestWaiting.Seconds() }))
}
