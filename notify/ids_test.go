package notify

import (
	"testing"
	"time"
)

// The id forms are a protocol: an id already in an outbox, a sent marker
// or a delivery record must be made the same way by the next version, or
// a mail queued again goes out twice.
func TestNotificationIDs(t *testing.T) {
	at := time.Unix(1700000000, 123)
	for _, tt := range []struct{ name, got, want string }{
		{"ack", AckID("SD-4"), "SD-4/ack"},
		{"rejection", RejectionID("m1@elsewhere.example"), "rejection/m1@elsewhere.example"},
		{"sla warning", SLAAlertID("SD-4", SLAWarning, "Agent@Desk.example"), "SD-4/sla_warning/agent@desk.example"},
		{"sla breach", SLAAlertID("SD-4", SLABreach, "agent@desk.example"), "SD-4/sla_breach/agent@desk.example"},
		{"sla alerts", SLAAlertsID("1700000000000-0a1b2c3d4e5f", "Agent@Desk.example"), "sla_alerts/1700000000000-0a1b2c3d4e5f/agent@desk.example"},
		{"digest", DigestID("2026-11-23", "Boss@Desk.example"), "digest/2026-11-23/boss@desk.example"},
		{"time budget keeps the address as given", TimeBudgetID("SD-4", BudgetWarning, "Piet@Desk.example"), "SD-4/time_budget/" + BudgetWarning + "/Piet@Desk.example"},
		{"feature reply", FeatureReplyID("SD-4", "r1@acme.example", "Piet@Desk.example"), "SD-4/feature_reply/r1@acme.example/piet@desk.example"},
		{"ticket event", TicketEventID("SD-4", AgentReply, at, "Jan@Acme.example"), "SD-4/reply/1700000000000000123/jan@acme.example"},
		{"alarm", AlarmID("imap", "1700000000", "Ops@Desk.example"), "alarm/imap/1700000000/ops@desk.example"},
		{"credential expiry", CredentialExpiryID("2026-11-23", 7, "Ops@Desk.example"), "alarm/expiry/2026-11-23/7d/ops@desk.example"},
		{"sign-in", SignInID(at, "jan@acme.example"), "signin/1700000000000000123/jan@acme.example"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: id %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
