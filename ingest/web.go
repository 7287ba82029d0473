package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/maildesk/maildesk/mailparse"
	"github.com/maildesk/maildesk/ticket"
)

// WebReply is what a contact wrote on a ticket's status page.
type WebReply struct {
	// From is the contact the page's link was mailed to.
	From mail.Address
	// Ticket is the ticket the page shows: its number, subject and
	// Message-ID, which the reply threads by as a reply to the ticket's
	// mail would.
	Ticket, Subject, InReplyTo string
	Text                       string
	// Key identifies the reply: the same key is the same reply (a form
	// sent twice), another key another reply. Callers scope it to the link.
	Key string
}

// webSource is where a reply from the status page "was": no mailbox.
var webSource = ticket.Source{Mailbox: "(status page)"}

// SubmitWeb commits a reply written on a ticket's status page exactly as
// the same text mailed by its writer would be: it threads to the ticket
// (or, the ticket being closed, starts a new one that links to it, with an
// acknowledgement), the directory judges the writer now, and it counts as
// authenticated, the writer having reached the page through a link mailed
// to their address. It is idempotent on Key: its Message-ID derives from
// it, and a second submission is a replay (Result.Replay).
func (p *Pipeline) SubmitWeb(ctx context.Context, r WebReply) (Result, error) {
	p.settle()
	if strings.TrimSpace(r.Key) == "" {
		return Result{}, fmt.Errorf("reply from the status page of %s: no key", r.Ticket)
	}
	sum := sha256.Sum256([]byte(r.Key))
	domain := p.Own.MessageIDDomain
	if domain == "" {
		domain = "maildesk.invalid"
	}
	id := "web." + hex.EncodeToString(sum[:20]) + "@" + domain
	subject := "Re: [" + r.Ticket + "] " + r.Subject
	text := strings.ReplaceAll(strings.TrimSpace(r.Text), "\r\n", "\n")
	now := p.Now()
	msg := &mailparse.Message{
		MessageID: id,
		Subject:   subject,
		From:      r.From,
		Date:      now,
		Text:      text,
		Header: map[string][]string{
			textproto.CanonicalMIMEHeaderKey("Message-ID"): {"<" + id + ">"},
			"From":    {r.From.String()},
			"Subject": {subject},
		},
		ContentType: "text/plain",
		Size:        int64(len(text)),
		ContentHash: hex.EncodeToString(sum[:]),
	}
	if r.InReplyTo != "" {
		msg.InReplyTo = []string{r.InReplyTo}
		msg.References = []string{r.InReplyTo}
		msg.Header["In-Reply-To"] = []string{"<" + r.InReplyTo + ">"}
	}
	if p.Own.Address != "" {
		msg.To = []mail.Address{{Address: p.Own.Address}}
	}
	return p.Decide(ctx, &ReadMail{src: webSource, msg: msg, web: true}, nil)
}

// channel is how m came in, for its ticket or event: "" for mail.
func (m *inbound) channel() string {
	if m.web {
		return ticket.ChannelWeb
	}
	return ""
}
