package faults

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/internal/testserver"
)

// Auto-responders of the loop test, by the address they answer for.
const (
	// loopyAddr is a contact whose mailbox answers every mail with a fresh
	// mail: new subject, no threading headers, no Auto-Submitted. Each
	// answer looks like a new request, so only the recipient rate limit
	// can end the exchange.
	loopyAddr = "loopy@acme.example"
	// politeAddr answers "Re: <subject>" with In-Reply-To, but also
	// without Auto-Submitted: its answer is a follow-up, not answered.
	politeAddr = "polite@acme.example"
	// echoAddr reflects what it gets back to the desk (a forwarding rule
	// gone wrong), stripped of Auto-Submitted and Precedence but with the
	// desk's loop header: it must be recognised as the desk's own mail.
	echoAddr = "echo@acme.example"
	// awayAddr is a stranger with the same responder as loopy: notices to
	// it are limited by notice_interval.
	awayAddr = "away@elsewhere.example"
)

// loopLimit is outbox.recipient_limits of the loop test.
const loopLimit = 5

// responder answers mail the desk sent: raw is what it got, n counts its
// answers. It returns the answer to deliver to the desk, or nil.
type responder func(raw []byte, n int) []byte

var (
	loopHeaderRE = regexp.MustCompile(`(?mi)^(Auto-Submitted|Precedence|X-Auto-Response-Suppress):[^\r\n]*\r?\n`)
	fromRE       = regexp.MustCompile(`(?mi)^From:[^\r\n]*(\r\n[ \t][^\r\n]*)*`)
	messageIDRE  = regexp.MustCompile(`(?mi)^Message-ID:[^\r\n]*`)
)

func responders() map[string]responder {
	fresh := func(from string) responder {
		return func(_ []byte, n int) []byte {
			_, dom, _ := strings.Cut(from, "@")
			return []byte(fmt.Sprintf("From: Auto Responder <%s>\r\nTo: %s\r\nSubject: Thank you for your message\r\n"+
				"Message-ID: <auto%d.%d@%s>\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
				"Thank you for your message. I will get back to you as soon as possible.\r\n",
				from, deskAddr, n, time.Now().UnixNano(), dom, time.Now().Format(time.RFC1123Z)))
		}
	}
	return map[string]responder{
		loopyAddr: fresh(loopyAddr),
		awayAddr:  fresh(awayAddr),
		politeAddr: func(raw []byte, n int) []byte {
			s, _ := parseSentRaw(raw)
			return []byte(fmt.Sprintf("From: Polite Person <%s>\r\nTo: %s\r\nSubject: Re: %s\r\nMessage-ID: <polite%d.%d@acme.example>\r\n"+
				"In-Reply-To: <%s>\r\nReferences: <%s>\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
				"Thanks, received.\r\n", politeAddr, deskAddr, s.subject, n, time.Now().UnixNano(), s.messageID, s.messageID,
				time.Now().Format(time.RFC1123Z)))
		},
		echoAddr: func(raw []byte, n int) []byte {
			head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
			head = append(loopHeaderRE.ReplaceAll(append(head, "\r\n"...), nil), "\r\n"...)
			head = fromRE.ReplaceAll(head, []byte("From: Echo <"+echoAddr+">"))
			head = messageIDRE.ReplaceAll(head, []byte(fmt.Sprintf("Message-ID: <echo%d.%d@acme.example>", n, time.Now().UnixNano())))
			return append(head, body...)
		},
	}
}

// TestAutoResponderLoop runs the desk against auto-responders that answer
// every mail it sends (none of them with Auto-Submitted, the worst case),
// and a copy of the desk's own mail coming back into its inbox. The
// exchange must die out: at most outbox.recipient_limits (5 per 10
// minutes here) mails to the responder that makes every answer a new
// request, one to each of the others, none to a mail carrying the desk's
// loop header.
func TestAutoResponderLoop(t *testing.T) {
	skipShort(t)
	t.Parallel()
	d := newDesk(t, deskOptions{
		Outbox: fmt.Sprintf(`  retry: 1s
  max_backoff: 2s
  recipient_limits: [{max: %d, per: 10m}]
`, loopLimit),
		Contacts: contactsYAML(
			"{email: "+loopyAddr+", name: Loopy}",
			"{email: "+politeAddr+", name: Polite Person}",
			"{email: "+echoAddr+", name: Echo}",
		),
	})
	d.start()
	d.waitLog(0, connectedLine, 30*time.Second)
	// Each responder's owner writes once; from then on the machines talk.
	c := &corpus{run: "loop"}
	for i, from := range []string{loopyAddr, politeAddr, echoAddr, awayAddr} {
		m := testMail{Seq: i + 1, From: from, ID: fmt.Sprintf("start%d@%s", i, strings.Split(from, "@")[1])}
		d.dc.Deliver(t, deskAddr, []byte(c.header(m, "Owner", "Printer broken", nil)+"The printer is broken again.\r\n"))
	}

	rs := responders()
	answered := map[string]int{} // per responder
	fromDesk := map[string]int{} // per recipient
	toDesk := 4
	var loopIDs []string // Message-IDs of mail carrying the desk's loop header sent to the desk
	var selfID, echoID string
	seen, lastNew := 0, time.Now()
	selfCopied := false
	t0 := time.Now()
	for time.Since(lastNew) < 8*time.Second {
		if time.Since(t0) > 90*time.Second {
			t.Fatalf("the exchange has not died out after 90s: %d mails from the desk %v, %d to it", sum(fromDesk), fromDesk, toDesk)
		}
		msgs := d.smtp.Messages()
		for _, m := range msgs[seen:] {
			lastNew = time.Now()
			for _, rcpt := range m.To {
				rcpt = strings.ToLower(rcpt)
				fromDesk[rcpt]++
				r := rs[rcpt]
				if r == nil {
					t.Errorf("the desk mailed %s, who never wrote to it", rcpt)
					continue
				}
				answered[rcpt]++
				reply := r(m.Data, answered[rcpt])
				if bytes.Contains(reply, []byte("X-Maildesk-Loop:")) {
					s, _ := parseSentRaw(reply)
					loopIDs = append(loopIDs, s.messageID)
					echoID = s.messageID
				}
				d.dc.Deliver(t, deskAddr, reply)
				toDesk++
			}
			// The desk's first mail also comes back as it was sent (a
			// Bcc to itself, a forward of the sent folder): From the
			// desk, its Message-ID, its loop header.
			if !selfCopied {
				selfCopied = true
				d.dc.Deliver(t, deskAddr, m.Data)
				s, _ := parseSentRaw(m.Data)
				loopIDs = append(loopIDs, s.messageID)
				selfID = s.messageID
				toDesk++
			}
		}
		seen = len(msgs)
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("exchange died out after %s: %d mails from the desk %v, %d to it", time.Since(t0).Round(time.Millisecond), sum(fromDesk), fromDesk, toDesk)
	d.waitQuiet(toDesk, 30*time.Second)

	want := map[string]int{loopyAddr: loopLimit, politeAddr: 1, echoAddr: 1, awayAddr: 1}
	for rcpt, n := range fromDesk {
		if n > want[rcpt] {
			t.Errorf("the desk sent %d mails to %s, limit %d", n, rcpt, want[rcpt])
		}
	}
	for rcpt, n := range want {
		if fromDesk[rcpt] != n {
			t.Errorf("the desk sent %d mails to %s, want %d", fromDesk[rcpt], rcpt, n)
		}
	}
	// From the desk: the limit to loopy, one to each other responder; to
	// the desk: the four first mails, one answer per mail, the self-copy.
	maxFrom := loopLimit + 3
	if limit := maxFrom + 4 + maxFrom + 1; sum(fromDesk)+toDesk > limit {
		t.Errorf("%d mails exchanged, more than the rate limits allow (%d)", sum(fromDesk)+toDesk, limit)
	}
	// The responder that makes every answer a new request ran into the
	// limit, and that is on record.
	limited := 0
	for _, e := range d.outbox("--skipped") {
		if strings.EqualFold(e.To, loopyAddr) && strings.Contains(e.Reason, "rate limited") {
			limited++
		} else {
			t.Errorf("skipped notification %s to %s: %s", e.ID, e.To, e.Reason)
		}
	}
	if limited != 1 {
		t.Errorf("%d notifications to %s skipped as rate limited, want 1 (the one that ended the loop)", limited, loopyAddr)
	}
	// Nothing the desk sent answers a mail that carried its loop header,
	// and each of those was refused as its own mail.
	for _, s := range d.sent() {
		for _, id := range loopIDs {
			if s.inReplyTo == id {
				t.Errorf("the desk answered its own mail <%s>: %s to %v", id, s.kind, s.rcpt)
			}
		}
	}
	// The echo is refused as the desk's own mail. The self-copy carries a
	// Message-ID the desk recorded when it sent it (for threading), so it
	// is filed as a replay: into Rejected, without a record of its own.
	reasons := map[string]string{}
	for _, r := range d.rejections() {
		reasons[r.MessageID] = r.Reason
	}
	// Which is which does not depend on the order the desk sent its
	// first mails in.
	if len(loopIDs) != 2 || selfID == "" || echoID == "" {
		t.Fatalf("%d mails with the loop header went to the desk, want 2 (self-copy, echo)", len(loopIDs))
	}
	if !strings.Contains(reasons[echoID], "machine mail: loop") {
		t.Errorf("echoed mail <%s> with the desk's loop header: rejection reason %q, want machine mail: loop", echoID, reasons[echoID])
	}
	rejected := false
	for _, m := range d.dc.Mailbox(t, deskAddr, "Rejected") {
		rejected = rejected || bytes.Contains(m.Raw, []byte("Message-ID: <"+selfID+">"))
	}
	if !rejected {
		t.Errorf("the copy of the desk's own mail <%s> is not in Rejected", selfID)
	}
}

// parseSentRaw reads the headers parseSent uses from a raw mail.
func parseSentRaw(raw []byte) (sentMail, error) {
	s, err := parseSent(receivedOf(raw))
	if err != nil && s.header == nil {
		return s, err
	}
	return s, nil
}

func receivedOf(raw []byte) testserver.Received { return testserver.Received{Data: raw} }
