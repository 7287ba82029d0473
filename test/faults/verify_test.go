package faults

import (
	"bytes"
	"fmt"
	"mime"
	"net/mail"
	"sort"
	"strings"

	"github.com/maildesk/maildesk/ingest"
	"github.com/maildesk/maildesk/internal/testserver"
)

// expect is what a fault may legitimately change in the outcome.
type expect struct {
	// faults is how often the daemon died without a shutdown or lost
	// Redis in the middle of its work: each may send one notification
	// twice (design.md: at most once "except in the window between SMTP
	// acceptance and recording it").
	faults int
	// refused are recipients the relay refuses permanently (5xx): their
	// notifications end dead-lettered, or skipped once the address is
	// suppressed, never delivered.
	refused map[string]bool
	// domainNoticeLimit is authz.domain_notice_limit (default 10).
	domainNoticeLimit int
	// uncertain: the relay sometimes took a mail and never answered it, so
	// mail may wait in the outbox marked "delivery uncertain" (for an
	// operator). The relay has each of those once; a ticket whose
	// acknowledgement is uncertain is not marked acknowledged.
	uncertain bool
	// alerts: SLA alerts (sla_warning, sla_breach, sla_alerts) go out too;
	// the test checks them itself.
	alerts bool
	// taken are the mails (by sequence number) a person took out of the
	// inbox after the desk had committed them: they are in none of the
	// desk's folders, but their outcome (ticket, acknowledgement, rejection
	// record, notice) must be there as for any other.
	taken map[int]bool
}

// sentMail is one message the SMTP server accepted, as the desk sent it.
type sentMail struct {
	envFrom       string
	rcpt          []string
	messageID     string
	kind          string // first atom of the Message-ID: ack, rejection, too_large, ...
	ticket        string // SD-n from the Message-ID, "" for notices to strangers
	inReplyTo     string
	subject       string
	autoSubmitted string
	header        mail.Header
	raw           []byte
}

var wordDecoder = new(mime.WordDecoder)

func parseSent(r testserver.Received) (sentMail, error) {
	s := sentMail{envFrom: r.From, rcpt: r.To, raw: r.Data}
	msg, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		return s, fmt.Errorf("unreadable mail to %v: %v\n%.500s", r.To, err, r.Data)
	}
	s.header = msg.Header
	s.messageID = strings.Trim(msg.Header.Get("Message-Id"), "<> ")
	s.inReplyTo = strings.Trim(msg.Header.Get("In-Reply-To"), "<> ")
	s.autoSubmitted = msg.Header.Get("Auto-Submitted")
	if s.subject, err = wordDecoder.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		s.subject = msg.Header.Get("Subject")
	}
	// kind.ref.desk.maildesk.mac@domain (notify.messageID)
	atoms := strings.Split(strings.Split(s.messageID, "@")[0], ".")
	if len(atoms) != 5 || atoms[3] != "maildesk" {
		return s, fmt.Errorf("mail to %v has Message-ID <%s>, not one of the desk's", r.To, s.messageID)
	}
	s.kind = atoms[0]
	if strings.HasPrefix(atoms[1], "sd-") {
		s.ticket = strings.ToUpper(atoms[1])
	}
	return s, nil
}

// sent returns the parsed messages the SMTP server accepted.
func (d *desk) sent() []sentMail {
	d.t.Helper()
	var out []sentMail
	for _, r := range d.smtp.Messages() {
		s, err := parseSent(r)
		if err != nil {
			d.t.Error(err)
			continue
		}
		out = append(out, s)
	}
	return out
}

// verify checks the invariants after all of c was delivered and the desk
// is quiet (waitQuiet):
//
//   - no mail lost: every mail is in exactly one of Processed, Rejected,
//     Quarantine (the one its kind calls for), none is left in INBOX;
//   - one ticket per Message-ID, and one for every authorised mail; no
//     ticket for any other;
//   - one rejection record per refused Message-ID;
//   - every ticket acknowledged exactly once (threaded under its mail, to
//     its contact, tagged), every stranger noticed exactly once
//     (notice_interval 24h; the domain limit kept) and every contact with
//     an oversized mail told once, except for at most one extra mail per
//     fault in all; refused recipients' mail dead-lettered or skipped,
//     nothing else; nothing waiting in the outbox;
//   - every mail sent to one recipient, with Auto-Submitted: auto-replied,
//     notices with the null envelope sender;
//   - a ticket whose acknowledgement went out is marked acknowledged.
func (d *desk) verify(c *corpus, exp expect) {
	t := d.t
	t.Helper()
	if exp.domainNoticeLimit == 0 {
		exp.domainNoticeLimit = 10
	}
	fail := 0
	errorf := func(format string, args ...any) {
		t.Helper()
		if fail++; fail <= 40 {
			t.Errorf(format, args...)
		} else if fail == 41 {
			t.Errorf("... more violations left out")
		}
	}

	// No mail lost, none duplicated, each where its kind says; and each
	// filed mail carries its outcome (issue 16: the mailbox is the journal).
	where := map[int][]string{}
	recorded := map[int]int64{} // mail -> ticket number its keywords record
	for _, f := range folders {
		for _, m := range d.dc.Mailbox(t, deskAddr, f) {
			seq, ok := seqOf(m.Raw)
			if !ok {
				errorf("%s holds a mail (UID %d) that was not delivered by the test:\n%.300s", f, m.UID, m.Raw)
				continue
			}
			where[seq] = append(where[seq], f)
			outcome, n := ingest.RecordedOutcome(m.Flags)
			switch {
			case f == "Processed" && (outcome != "ticket" || n == 0):
				errorf("NO OUTCOME: mail %d in Processed has keywords %v, not its ticket", seq, m.Flags)
			case f == "Rejected" && outcome != "rejected":
				errorf("NO OUTCOME: mail %d in Rejected has keywords %v, not $MDRejected", seq, m.Flags)
			case f == "Processed":
				recorded[seq] = n
			}
		}
	}
	for _, m := range c.mails {
		got := where[m.Seq]
		switch {
		case exp.taken[m.Seq]:
			if len(got) > 0 {
				errorf("mail %d (%s), which a person took out of the inbox, is in %v", m.Seq, m.Kind, got)
			}
		case len(got) == 0:
			errorf("LOST: mail %d (%s, Message-ID <%s>, from %s) is in no folder", m.Seq, m.Kind, m.ID, m.From)
		case len(got) > 1:
			errorf("mail %d (%s, Message-ID <%s>) is in %d places: %v", m.Seq, m.Kind, m.ID, len(got), got)
		case got[0] != m.Kind.folder():
			errorf("mail %d (%s, Message-ID <%s>, from %s) is in %s, want %s", m.Seq, m.Kind, m.ID, m.From, got[0], m.Kind.folder())
		}
	}

	// One ticket per Message-ID; one for each authorised mail.
	tickets := d.tickets()
	byMsgID := map[string][]string{}
	byNumber := map[string]listedTicket{}
	for _, tk := range tickets {
		byMsgID[tk.MessageID] = append(byMsgID[tk.MessageID], tk.Number)
		byNumber[tk.Number] = tk
	}
	wantTickets := map[string]bool{}
	for _, m := range c.mails {
		switch m.Kind {
		case kindTicket, kindDupTicket:
			wantTickets[m.ID] = true
			if len(byMsgID[m.ID]) == 0 {
				errorf("mail %d (%s, Message-ID <%s>, from %s) has no ticket", m.Seq, m.Kind, m.ID, m.From)
			}
		case kindStranger, kindOversized:
			if ns := byMsgID[m.ID]; len(ns) > 0 {
				errorf("mail %d (%s, Message-ID <%s>, from %s) made ticket(s) %v", m.Seq, m.Kind, m.ID, m.From, ns)
			}
		}
	}
	// No number given to two mails: by the mailbox's record, and each
	// filed mail's record is its ticket's number.
	mailOf := map[int64]testMail{}
	for _, m := range c.mails {
		n, ok := recorded[m.Seq]
		if !ok {
			continue
		}
		// A resend of a mail (kindDupTicket) carries its Message-ID: the
		// same mail, the same number.
		if prev, dup := mailOf[n]; dup && prev.ID != m.ID {
			errorf("NUMBER REUSED: SD-%d is recorded on mail %d <%s> and mail %d <%s>", n, prev.Seq, prev.ID, m.Seq, m.ID)
		}
		mailOf[n] = m
		if ns := byMsgID[m.ID]; len(ns) == 1 && ns[0] != fmt.Sprintf("SD-%d", n) {
			errorf("mail %d <%s> records SD-%d, its ticket is %s", m.Seq, m.ID, n, ns[0])
		}
	}
	for id, ns := range byMsgID {
		if len(ns) > 1 {
			errorf("DUPLICATE TICKETS: Message-ID <%s> has %d tickets: %v", id, len(ns), ns)
		}
		if !wantTickets[id] {
			errorf("ticket(s) %v for Message-ID <%s>, which no authorised mail had", ns, id)
		}
	}

	// One rejection record per refused Message-ID.
	rejByID := map[string]int{}
	for _, r := range d.rejections() {
		rejByID[r.MessageID]++
	}
	for _, m := range c.mails {
		if m.Kind != kindStranger && m.Kind != kindOversized {
			continue
		}
		if n := rejByID[m.ID]; n != 1 {
			errorf("mail %d (%s, Message-ID <%s>, from %s) has %d rejection records, want 1", m.Seq, m.Kind, m.ID, m.From, n)
		}
	}
	for _, m := range c.mails {
		if m.Kind == kindTicket && rejByID[m.ID] > 0 {
			errorf("mail %d (authorised, Message-ID <%s>) has a rejection record", m.Seq, m.ID)
		}
	}

	// The outbox: nothing waiting (but uncertain deliveries, when the
	// relay lost replies); dead and skipped only for refused recipients.
	uncertain := map[string]bool{}
	var waiting []outboxEntry
	for _, e := range d.outbox() {
		if exp.uncertain && e.State == "uncertain" {
			uncertain[e.ID] = true
			continue
		}
		waiting = append(waiting, e)
	}
	if len(waiting) > 0 {
		errorf("%d notifications still waiting in the outbox, first: %+v", len(waiting), waiting[0])
	}
	given := map[string]string{} // notification id -> why it was not delivered
	for _, q := range []string{"--dead", "--skipped"} {
		for _, e := range d.outbox(q) {
			given[e.ID] = q[2:] + ": " + e.Reason
			if !exp.refused[strings.ToLower(e.To)] {
				errorf("notification %s (%s) to %s %s: %s", e.ID, e.Kind, e.To, q[2:], e.Reason)
			}
		}
	}

	// What went out.
	extras := 0
	var extraList []string
	ackCount := map[string]int{}
	noticeCount := map[string]int{} // recipient -> rejection notices
	tooLargeCount := map[string]int{}
	msgIDCount := map[string]int{}
	ackedMail := map[string]string{}          // ticket -> the mail its acknowledgement answered
	noticeIDs := map[string]map[string]bool{} // recipient -> Message-IDs of their notices
	for _, s := range d.sent() {
		msgIDCount[s.messageID]++
		if len(s.rcpt) != 1 {
			errorf("mail <%s> (%s) went to %d recipients %v, want 1", s.messageID, s.kind, len(s.rcpt), s.rcpt)
			continue
		}
		to := strings.ToLower(s.rcpt[0])
		if exp.refused[to] {
			errorf("mail <%s> (%s) accepted for %s, whom the relay refuses", s.messageID, s.kind, to)
		}
		wantAuto := "auto-replied"
		if alertKinds[s.kind] {
			wantAuto = "auto-generated"
		}
		if s.autoSubmitted != wantAuto {
			errorf("%s <%s> to %s has Auto-Submitted %q, want %s", s.kind, s.messageID, to, s.autoSubmitted, wantAuto)
		}
		switch s.kind {
		case "ack":
			ackCount[s.ticket]++
			if prev, ok := ackedMail[s.ticket]; ok && prev != s.inReplyTo {
				errorf("NUMBER REUSED: %s acknowledged for <%s> and for <%s>", s.ticket, prev, s.inReplyTo)
			}
			ackedMail[s.ticket] = s.inReplyTo
			tk, ok := byNumber[s.ticket]
			switch {
			case !ok:
				errorf("acknowledgement <%s> to %s for ticket %s, which does not exist", s.messageID, to, s.ticket)
			case !strings.EqualFold(tk.Contact, to):
				errorf("acknowledgement of %s went to %s, the ticket's contact is %s", s.ticket, to, tk.Contact)
			case s.inReplyTo != tk.MessageID:
				errorf("acknowledgement of %s answers <%s>, the ticket's mail is <%s>", s.ticket, s.inReplyTo, tk.MessageID)
			case !strings.HasPrefix(s.subject, "["+s.ticket+"] "):
				errorf("acknowledgement of %s has subject %q", s.ticket, s.subject)
			}
		case "rejection":
			noticeCount[to]++
			if noticeIDs[to] == nil {
				noticeIDs[to] = map[string]bool{}
			}
			noticeIDs[to][s.messageID] = true
			if s.envFrom != "" {
				errorf("notice <%s> to %s sent with envelope sender %q, want <>", s.messageID, to, s.envFrom)
			}
		case "too_large":
			tooLargeCount[to]++
		case "sla_warning", "sla_breach", "sla_alerts":
			if !exp.alerts {
				errorf("unexpected %s mail <%s> to %s: %q", s.kind, s.messageID, to, s.subject)
			}
		default:
			errorf("unexpected %s mail <%s> to %s: %q", s.kind, s.messageID, to, s.subject)
		}
	}
	for id, n := range msgIDCount {
		if n > 1 {
			extras += n - 1
			extraList = append(extraList, fmt.Sprintf("<%s> %d times", id, n))
		}
	}

	// Every ticket acknowledged (or its ack given up on, to a refused
	// recipient).
	var unmarked []string
	for _, tk := range tickets {
		n := ackCount[tk.Number]
		why, givenUp := given[tk.Number+"/ack"]
		switch {
		case exp.refused[strings.ToLower(tk.Contact)]:
			if n > 0 || !givenUp {
				errorf("ticket %s of refused recipient %s: %d acks sent, dead/skipped: %v", tk.Number, tk.Contact, n, givenUp)
			}
		case n == 0 && givenUp:
			errorf("ticket %s (Message-ID <%s>): acknowledgement not delivered: %s", tk.Number, tk.MessageID, why)
		case n == 0:
			errorf("ticket %s (Message-ID <%s>, contact %s) has NO acknowledgement, and none is waiting or dead: lost notification", tk.Number, tk.MessageID, tk.Contact)
		case n > 1:
			t.Logf("ticket %s acknowledged %d times", tk.Number, n)
		}
		// An uncertain acknowledgement is not known to be delivered.
		if n > 0 && tk.AcknowledgedAt == nil && !uncertain[tk.Number+"/ack"] {
			unmarked = append(unmarked, tk.Number)
		}
	}
	// A delivered acknowledgement makes the ticket acknowledged, whatever
	// crash or Redis outage comes between the delivery and its record
	// (TestFaultAfterDeliveryRecorded).
	if len(unmarked) > 0 {
		errorf("%d tickets whose acknowledgement was delivered have no acknowledged_at: %v", len(unmarked), unmarked)
	}

	// Strangers: one notice each (notice_interval 24h), within the domain
	// limit; contacts with an oversized mail: one too_large notice each.
	strangers := map[string]bool{}
	bigSenders := map[string]bool{}
	for _, m := range c.mails {
		switch m.Kind {
		case kindStranger:
			strangers[strings.ToLower(m.From)] = true
		case kindOversized:
			bigSenders[strings.ToLower(m.From)] = true
		}
	}
	perDomain := map[string]int{}
	for to, n := range noticeCount {
		// One notice per sender per notice_interval (24h): a second one
		// (about another of their mails; one sent twice is counted above)
		// is a mail sent twice.
		if k := len(noticeIDs[to]); k > 1 {
			extras += k - 1
			extraList = append(extraList, fmt.Sprintf("%d notices to %s", k, to))
		}
		_, dom, _ := strings.Cut(to, "@")
		perDomain[dom] += n
		if !strangers[to] {
			errorf("%d notice(s) to %s, who sent no refused mail", n, to)
		}
	}
	for s := range strangers {
		if exp.refused[s] {
			continue
		}
		if noticeCount[s] == 0 {
			errorf("stranger %s got no notice (rejection notices are due once per notice_interval)", s)
		}
	}
	for dom, n := range perDomain {
		if n > exp.domainNoticeLimit+exp.faults {
			errorf("%d notices to domain %s, limit %d per interval", n, dom, exp.domainNoticeLimit)
		}
	}
	for to, n := range tooLargeCount {
		if !bigSenders[to] {
			errorf("%d too_large notice(s) to %s, who sent no oversized mail", n, to)
		}
	}
	for s := range bigSenders {
		if tooLargeCount[s] == 0 && !exp.refused[s] {
			errorf("%s sent an oversized mail and got no too_large notice", s)
		}
	}

	sort.Strings(extraList)
	if extras > exp.faults {
		errorf("%d mails sent more than once, at most %d allowed (one per fault): %v", extras, exp.faults, extraList)
	} else if extras > 0 {
		t.Logf("%d mails sent twice after %d faults (allowed: one per fault): %v", extras, exp.faults, extraList)
	}
	t.Logf("verified %d mails: %d tickets, %d acks, %d notices to %d strangers, %d too_large notices, %d dead/skipped, %d uncertain, %d duplicate sends",
		len(c.mails), len(tickets), sum(ackCount), sum(noticeCount), len(noticeCount), sum(tooLargeCount), len(given), len(uncertain), extras)
}

// alertKinds are the kinds of the SLA alerts (first atom of their
// Message-ID), sent with Auto-Submitted: auto-generated.
var alertKinds = map[string]bool{"sla_warning": true, "sla_breach": true, "sla_alerts": true}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
