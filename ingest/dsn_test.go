package ingest

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseDeliveryStatus(t *testing.T) {
	status := "Reporting-MTA: dns; mx.acme.example\r\nArrival-Date: Sat, 21 Nov 2026 10:00:00 +0100\r\n\r\n" +
		"Final-Recipient: rfc822; Jan@Acme.example\r\nAction: failed\r\nStatus: 5.1.1 (no such user)\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 <jan@acme.example>:\r\n  Recipient address rejected\r\n\r\n" +
		"Original-Recipient: rfc822;piet@acme.example\r\nAction: delayed\r\nStatus: 4.4.1\r\n"
	want := []ReportRecipient{
		{Address: "jan@acme.example", Action: "failed", Status: "5.1.1", Diagnostic: "smtp; 550 5.1.1 <jan@acme.example>: Recipient address rejected"},
		{Address: "piet@acme.example", Action: "delayed", Status: "4.4.1"},
	}
	if got := parseDeliveryStatus([]byte(status)); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if !want[0].Failed() || want[1].Failed() {
		t.Fatal("Failed() wrong")
	}
	if got := parseDeliveryStatus([]byte("Final-Recipient: rfc822; a@b\r\nAction: failed\r\n")); len(got) != 1 || got[0].Status != "" {
		t.Fatalf("no Status: %+v", got)
	}
	if got := parseDeliveryStatus([]byte("garbage\x00\r\n\r\n:::")); len(got) != 0 {
		t.Fatalf("garbage gave %+v", got)
	}
	if id := headerMessageID([]byte("From: x\r\nMessage-ID: <ack.sd-1.d.maildesk.1a@desk.example>\r\n\r\nbody")); id != "ack.sd-1.d.maildesk.1a@desk.example" {
		t.Fatalf("id %q", id)
	}
}

func FuzzParseDeliveryStatus(f *testing.F) {
	f.Add([]byte("Final-Recipient: rfc822; a@b\r\nAction: failed\r\nStatus: 5.1.1\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseDeliveryStatus(b)
		headerMessageID(b)
	})
}

const bounceOfAck = `From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>
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

func TestParseBounceReport(t *testing.T) {
	m := parseString(t, bounceOfAck, Limits{})
	want := &DeliveryReport{OriginalMessageID: "ack.sd-1.d.maildesk.0a1b@desk.example", Recipients: []ReportRecipient{
		{Address: "jan@acme.example", Action: "failed", Status: "5.1.1", Diagnostic: "smtp; 550 5.1.1 no such user"}}}
	if !reflect.DeepEqual(m.Report, want) {
		t.Fatalf("report %+v, want %+v", m.Report, want)
	}
	if !strings.Contains(m.Text, "could not be delivered") {
		t.Fatalf("the human part is still the text: %q", m.Text)
	}
	// A forwarded mail (message/rfc822 without a status part) is no report.
	fwd := "From: a@b\nSubject: Fwd\nContent-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: text/plain\n\nsee below\n--X\nContent-Type: message/rfc822\n\nMessage-ID: <orig@x>\nSubject: hi\n\nbody\n--X--\n"
	if m := parseString(t, fwd, Limits{}); m.Report != nil {
		t.Fatalf("forward has a report: %+v", m.Report)
	}
}
