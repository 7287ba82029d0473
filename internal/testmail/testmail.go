// Package testmail holds the machine mail the tests of several packages
// feed the desk: delivery status reports and abuse reports as other mail
// systems write them. All of it is written for the tests. It also reads
// the shared corpus of real-world mail (corpus.go).
package testmail

import (
	"fmt"
	"strings"
)

// DSNOf is a delivery status report from a receiving system whose
// per-recipient block is block, about the mail with Message-ID orig.
func DSNOf(from, id, orig, block string) string {
	return "From: " + from + "\nTo: desk@desk.example\nSubject: Undelivered Mail Returned to Sender\n" +
		"Message-ID: <" + id + ">\nReturn-Path: <>\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"R1\"\n\n" +
		"--R1\nContent-Type: text/plain\n\nThe mail could not be delivered.\n\n" +
		"--R1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.mail-acme.example\n\n" + block + "\n" +
		"--R1\nContent-Type: text/rfc822-headers\n\nFrom: Desk <desk@desk.example>\nTo: jan@acme.example\n" +
		"Subject: [SD-1] Printer kapot\nMessage-ID: <" + orig + ">\n\n--R1--\n"
}

// DSN is a delivery status notification reporting that the mail with
// Message-ID orig failed for each of failed.
func DSN(from, id, orig string, failed ...string) string {
	var recips strings.Builder
	for _, a := range failed {
		fmt.Fprintf(&recips, "\nFinal-Recipient: rfc822; %s\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user\n", a)
	}
	return `From: Mail Delivery System <` + from + `>
To: desk@desk.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <` + id + `>
Return-Path: <>
In-Reply-To: <` + orig + `>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example
` + recips.String() + `
--B
Content-Type: text/rfc822-headers

From: Desk <desk@desk.example>
Subject: [SD-1] Printer kapot
Message-ID: <` + orig + `>

--B--
`
}

// ARF is an abuse report (RFC 5965) by a mailbox provider about the mail
// with Message-ID orig; rcpt is its Original-Rcpt-To, "" for none.
func ARF(id, orig, rcpt string) string {
	var r string
	if rcpt != "" {
		r = "Original-Rcpt-To: <" + rcpt + ">\n"
	}
	return "From: Feedback Loop <fbl@isp-mail.example>\nTo: desk@desk.example\nSubject: Abuse report\n" +
		"Message-ID: <" + id + ">\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\n\n" +
		"--F\nContent-Type: text/plain\n\nA user of ours reported the attached mail as spam.\n\n" +
		"--F\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: ISPFBL/2.1\nVersion: 1\n" + r +
		"Source-IP: 192.0.2.25\n\n" +
		"--F\nContent-Type: message/rfc822\n\nFrom: Desk <desk@desk.example>\nTo: <redacted>\nSubject: [SD-1] Printer kapot\n" +
		"Message-ID: <" + orig + ">\n\nWe received your request.\n\n--F--\n"
}

// BounceOfAck is a receiving system's bounce of the desk's acknowledgement
// to jan@acme.example (Message-ID ack.sd-1.d.maildesk.0a1b@desk.example).
const BounceOfAck = `From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>
To: servicedesk@desk.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce1@mx.acme.example>
Return-Path: <>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system. Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.example

Final-Recipient: rfc822; jan@acme.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 no such user

--B
Content-Type: text/rfc822-headers

From: Acme IT Servicedesk <servicedesk@desk.example>
To: jan@acme.example
Subject: [SD-1] Printer kapot
Message-ID: <ack.sd-1.d.maildesk.0a1b@desk.example>

--B--
`

// Reports are the seeds of the fuzz tests of the parser and of the
// classification: the reports above, one of them forwarded inside a
// gateway's mail, a report whose status part is encoded and a bounce
// without a report.
func Reports() []string {
	inner := DSNOf("MAILER-DAEMON@mx.acme.example", "b1@mx.acme.example", "ack.sd-1.d.maildesk.0a1b@desk.example",
		"Original-Recipient: rfc822;jan@acme.example\nFinal-Recipient: rfc822; j@mail.acme.example\nAction: failure\nStatus: 553 no\n")
	return []string{
		BounceOfAck, inner,
		DSN("MAILER-DAEMON@mx.example", "b2@mx.example", "ack.sd-1.d.maildesk.0a1b@desk.example", "a@acme.example", "b@acme.example"),
		ARF("f1@isp-mail.example", "ack.sd-1.d.maildesk.0a1b@desk.example", "jan@acme.example"),
		ARF("f2@isp-mail.example", "x@y.example", ""),
		"From: gateway@acme.example\nSubject: Fwd: report\nContent-Type: multipart/mixed; boundary=W\n\n--W\nContent-Type: message/rfc822\n\n" + inner + "\n--W--\n",
		"From: x@y\nContent-Type: multipart/report; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\nContent-Transfer-Encoding: base64\n\nRmluYWwtUmVjaXBpZW50OiBhQGIK\n--b--\n",
		"From: Mail Delivery System <m@x.example>\nSubject: Undeliverable: x\nX-Failed-Recipients: a@b\nAuto-Submitted: auto-generated (failure)\n\nx\n",
	}
}

// Malformed are small mails broken in the ways the parser must survive:
// bad encoded words, nested and unclosed multiparts, hostile HTML, split
// RFC 2231 parameters.
func Malformed() []string {
	return []string{
		"",
		"Subject: x\n\nbody",
		"Subject: =?utf-8?q?=C3?= =?x?b?====?=\nContent-Type: multipart/mixed; boundary=a\n\n--a\n--a\n\n--a--",
		"Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=a\n\n--a\n--a--\n",
		"Content-Type: text/html\n\n<a\nhref=x>y</a><<<>>><!--<script><style>&#99999999999;&amp",
		"Content-Type: text/plain; charset*0*=utf-8''%E2; charset*1*=%82%AC; format=flowed\nContent-Transfer-Encoding: quoted-printable\n\n=E2=82=AC =\n \n",
	}
}
