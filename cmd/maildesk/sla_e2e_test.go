package main

import (
	"strings"
	"testing"
	"time"
)

// The SLA clock end to end: a ticket on a plan with a (very short) target
// gets its deadline at creation, the desk's agents and managers are warned
// at half of it and the managers alerted when it passes, each once, as
// automatic mail that no auto-responder answers.
func TestSLAEscalationEndToEnd(t *testing.T) {
	e := newEnv(t, `calendars:
  always: {hours: {mon-sun: ["00:00-24:00"]}}
plans:
  standard: {calendar: always, targets: {P3: {first_response: 4s}}}
escalation: {interval: 1s, warn_at: 50}
`)
	stop := e.start()
	defer stop()
	e.deliver(mail("Jan <jan@acme.example>", "Printer kapot", "m1@acme.example"))
	e.smtp.WaitFor(t, 4, 20*time.Second)
	time.Sleep(2 * time.Second) // a repeated alert would come within two sweeps
	got := map[string]string{}
	var all []string
	for _, m := range e.smtp.Messages() {
		subject := header(m.Data, "Subject")
		got[strings.Join(m.To, ",")+" "+subject] = header(m.Data, "Auto-Submitted")
		all = append(all, strings.Join(m.To, ",")+" "+subject)
	}
	want := map[string]string{
		"jan@acme.example [SD-1] Printer kapot":                "auto-replied",
		"agent@desk.example [SD-1] SLA warning: Printer kapot": "auto-generated",
		"boss@desk.example [SD-1] SLA warning: Printer kapot":  "auto-generated",
		"boss@desk.example [SD-1] SLA breached: Printer kapot": "auto-generated",
	}
	if len(got) != len(want) || len(all) != len(want) {
		t.Fatalf("sent %q, want %d mails", all, len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("mail %q: Auto-Submitted %q, want %q (sent: %q)", k, got[k], v, all)
		}
	}
	tk := e.ticket("SD-1")
	clock, _ := tk["sla"].(map[string]any)
	if clock == nil || clock["first_response_due"] == nil || clock["target"] != "4s" || clock["breached_at"] == nil {
		t.Errorf("ticket's SLA clock: %v", tk["sla"])
	}
}
