package faults

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// kind is what a test mail is, and so what must become of it.
type kind int

const (
	// kindTicket: from an authorised contact: Processed, one ticket, one
	// acknowledgement.
	kindTicket kind = iota
	// kindStranger: from an unknown sender: Rejected, one rejection record,
	// a notice within the notice limits.
	kindStranger
	// kindOversized: from a contact, over imap.max_message_size: Quarantine,
	// a rejection record ("too large") and a too_large notice.
	kindOversized
	// kindGarbage: no header at all (unparseable): Quarantine.
	kindGarbage
	// kindDupTicket / kindDupStranger: the Message-ID of an earlier mail
	// delivered again (a resend): filed like it, nothing new.
	kindDupTicket
	kindDupStranger
)

func (k kind) String() string {
	return [...]string{"ticket", "stranger", "oversized", "garbage", "dup-ticket", "dup-stranger"}[k]
}

// folder is where a mail of the kind must end up.
func (k kind) folder() string {
	switch k {
	case kindTicket, kindDupTicket:
		return "Processed"
	case kindStranger, kindDupStranger:
		return "Rejected"
	}
	return "Quarantine"
}

// testMail is one generated mail. Every one carries its sequence number
// (a header, or for garbage a body line "fault-seq=N"), so it can be found
// in whichever folder it ends up.
type testMail struct {
	Seq  int
	Kind kind
	ID   string // Message-ID without brackets; "" for garbage
	From string // address; "" for garbage
	Raw  []byte // CRLF line ends
}

var seqRE = regexp.MustCompile(`(?m)^(?:X-Fault-Seq: |fault-seq=)(\d+)\r?$`)

// seqOf finds the sequence number in a raw mail read back from IMAP.
func seqOf(raw []byte) (int, bool) {
	m := seqRE.FindSubmatch(raw)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(string(m[1]))
	return n, err == nil
}

// corpus is a mix of mails in delivery order.
type corpus struct {
	mails []testMail
	run   string // makes Message-IDs unique per test run
}

// strangerAddr is the i-th unknown sender: five per domain, so that the
// domain notice limit (10 per hour by default) does not cut in.
func strangerAddr(i int) string {
	return fmt.Sprintf("stranger%d@outside%d.example", i, i/5)
}

var subjects = []string{
	"Printer on floor %d does not print", "VPN drops every %d minutes", "Cannot log in to the portal (error %d)",
	"Request: new laptop for employee %d", "Outlook keeps asking for my password (%d times today)",
	"Shared drive full? %d GB left", "Phone extension %d not working", "Invoice %d: no access to the finance app",
}

// newCorpus makes n mails: about 70% from contacts, 25% from 100 strangers,
// 1% oversized, 1% unparseable, 3% resends of an earlier Message-ID;
// shuffled with rng.
func newCorpus(rng *rand.Rand, n int) *corpus {
	c := &corpus{run: strconv.FormatUint(rng.Uint64()%1e9, 36)}
	counts := map[kind]int{
		kindGarbage: max(1, n/100), kindOversized: max(1, n/100),
		kindDupTicket: max(1, n/50), kindDupStranger: max(1, n/100),
		kindStranger: n / 4,
	}
	counts[kindTicket] = n - counts[kindGarbage] - counts[kindOversized] - counts[kindDupTicket] - counts[kindDupStranger] - counts[kindStranger]
	var kinds []kind
	for _, k := range []kind{kindTicket, kindStranger, kindOversized, kindGarbage} {
		for range counts[k] {
			kinds = append(kinds, k)
		}
	}
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	for _, k := range kinds {
		c.add(rng, k)
	}
	// Resends of random earlier mails, inserted after their original.
	for _, dk := range []kind{kindDupTicket, kindDupStranger} {
		orig := kindTicket
		if dk == kindDupStranger {
			orig = kindStranger
		}
		for range counts[dk] {
			var i int
			for i = rng.IntN(len(c.mails)); c.mails[i].Kind != orig; i = rng.IntN(len(c.mails)) {
			}
			m := c.mails[i]
			dup := testMail{Seq: len(c.mails) + 1, Kind: dk, ID: m.ID, From: m.From,
				Raw: []byte(seqRE.ReplaceAllString(string(m.Raw), "X-Fault-Seq: "+strconv.Itoa(len(c.mails)+1)+"\r"))}
			at := i + 1 + rng.IntN(len(c.mails)-i)
			c.mails = append(c.mails[:at], append([]testMail{dup}, c.mails[at:]...)...)
		}
	}
	return c
}

// add appends a new mail of kind k (not a duplicate).
func (c *corpus) add(rng *rand.Rand, k kind) *testMail {
	seq := len(c.mails) + 1
	m := testMail{Seq: seq, Kind: k}
	if k == kindGarbage {
		// No header field at all: the parser refuses it (ErrNotMail). Only
		// a local delivery (DeliverMaildir) can leave it like this; LMTP
		// would add Return-Path and Received.
		m.Raw = []byte(fmt.Sprintf("this is not a mail\r\nfault-seq=%d\r\njust some text, no header\r\n", seq))
		c.mails = append(c.mails, m)
		return &c.mails[len(c.mails)-1]
	}
	var name string
	if k == kindStranger {
		m.From, name = strangerAddr(rng.IntN(100)), "Some One"
	} else {
		ct := contacts[rng.IntN(len(contacts))]
		m.From, name = ct.email, ct.name
	}
	_, domain, _ := strings.Cut(m.From, "@")
	m.ID = fmt.Sprintf("f%d.%s@mail.%s", seq, c.run, domain)
	subject := fmt.Sprintf(subjects[rng.IntN(len(subjects))], 1+rng.IntN(40))
	body := "Hello servicedesk,\r\n\r\nSince this morning it does not work. Could you have a look?\r\n\r\nKind regards\r\n" + name + "\r\n"
	if k == kindOversized {
		body += strings.Repeat("padding padding padding padding padding padding padding padding\r\n", 30<<10/66)
	}
	m.Raw = []byte(c.header(m, name, subject, nil) + body)
	c.mails = append(c.mails, m)
	return &c.mails[len(c.mails)-1]
}

// header is the header block of m (ending in the blank line), with extra
// header lines.
func (c *corpus) header(m testMail, name, subject string, extra []string) string {
	_, domain, _ := strings.Cut(m.From, "@")
	date := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).Add(time.Duration(m.Seq) * time.Second).Format(time.RFC1123Z)
	var h strings.Builder
	fmt.Fprintf(&h, "Return-Path: <%s>\r\n", m.From)
	fmt.Fprintf(&h, "Received: from mx.%s (mx.%s [192.0.2.7])\r\n\tby mx.desk.example (Postfix) with ESMTPS id F%d\r\n\tfor <%s>; %s\r\n", domain, domain, m.Seq, deskAddr, date)
	fmt.Fprintf(&h, "From: %s <%s>\r\nTo: Servicedesk <%s>\r\nSubject: %s\r\nDate: %s\r\n", name, m.From, deskAddr, subject, date)
	fmt.Fprintf(&h, "Message-ID: <%s>\r\nX-Fault-Seq: %d\r\nMIME-Version: 1.0\r\n", m.ID, m.Seq)
	for _, x := range extra {
		h.WriteString(x + "\r\n")
	}
	h.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	return h.String()
}

// raws returns the raw mails of c.mails[from:to].
func (c *corpus) raws(from, to int) [][]byte {
	out := make([][]byte, 0, to-from)
	for _, m := range c.mails[from:to] {
		out = append(out, m.Raw)
	}
	return out
}
