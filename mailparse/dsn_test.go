package mailparse

import (
	"reflect"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/internal/testmail"
)

func TestParseDeliveryStatus(t *testing.T) {
	status := "Reporting-MTA: dns; mx.acme.example\r\nArrival-Date: Sat, 21 Nov 2026 10:00:00 +0100\r\n\r\n" +
		"Final-Recipient: rfc822; Jan@Acme.example\r\nAction: failed\r\nStatus: 5.1.1 (no such user)\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 <jan@acme.example>:\r\n  Recipient address rejected\r\n\r\n" +
		"Original-Recipient: rfc822;piet@acme.example\r\nAction: delayed\r\nStatus: 4.4.1\r\n"
	want := []ReportRecipient{
		{Address: "jan@acme.example", Action: "failed", Status: "5.1.1", Diagnostic: "smtp; 550 5.1.1 <jan@acme.example>: Recipient address rejected"},
		{Address: "piet@acme.example", Original: "piet@acme.example", Action: "delayed", Status: "4.4.1"},
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

// What reporting systems write besides RFC 3464 (issue 17, item 3): the
// alias an address was delivered to, "failure" and bare SMTP codes, and
// recipient blocks base64-encoded inside the status part.
func TestParseDeliveryStatusVariants(t *testing.T) {
	tests := []struct {
		name, status string
		want         []ReportRecipient
		failed       []bool
	}{
		{name: "aliased", status: "Reporting-MTA: dns; mx\n\nOriginal-Recipient: rfc822;jan@acme.example\nFinal-Recipient: rfc822; j.devries@mail.acme.example\nAction: failed\nStatus: 5.2.1\n",
			want:   []ReportRecipient{{Address: "j.devries@mail.acme.example", Original: "jan@acme.example", Action: "failed", Status: "5.2.1"}},
			failed: []bool{true}},
		{name: "no space, angle brackets", status: "Reporting-MTA:dns;mx\n\nOriginal-Recipient:rfc822;<Jan@Acme.example>\nStatus:5.5.0\n",
			want:   []ReportRecipient{{Address: "jan@acme.example", Original: "jan@acme.example", Status: "5.5.0"}},
			failed: []bool{true}},
		{name: "action failure", status: "Final-Recipient: rfc822; a@acme.example\nAction: failure\n",
			want: []ReportRecipient{{Address: "a@acme.example", Action: "failure"}}, failed: []bool{true}},
		{name: "smtp code", status: "Final-Recipient: rfc822; a@acme.example\nStatus: 553 sorry, no such domain\n",
			want: []ReportRecipient{{Address: "a@acme.example", Status: "553"}}, failed: []bool{true}},
		{name: "smtp code temporary", status: "Final-Recipient: rfc822; a@acme.example\nStatus: 451 try later\n",
			want: []ReportRecipient{{Address: "a@acme.example", Status: "451"}}, failed: []bool{false}},
		{name: "delayed with a 5 status", status: "Final-Recipient: rfc822; a@acme.example\nAction: delayed\nStatus: 5.0.0\n",
			want: []ReportRecipient{{Address: "a@acme.example", Action: "delayed", Status: "5.0.0"}}, failed: []bool{false}},
		{name: "not a status code", status: "Final-Recipient: rfc822; a@acme.example\nStatus: 5xx\n",
			want: []ReportRecipient{{Address: "a@acme.example", Status: "5xx"}}, failed: []bool{false}},
		{name: "base64 recipient blocks", status: "Reporting-MTA: dns; mx\nContent-Transfer-Encoding: base64\n\n" +
			"RmluYWwtUmVjaXBpZW50OiByZmM4MjI7IGJAYWNtZS5leGFtcGxlCkFjdGlvbjogZmFpbGVkClN0YXR1czogNS4xLjEK\n",
			want: []ReportRecipient{{Address: "b@acme.example", Action: "failed", Status: "5.1.1"}}, failed: []bool{true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseDeliveryStatus([]byte(tt.status))
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
			for i, r := range got {
				if r.Failed() != tt.failed[i] {
					t.Errorf("%+v: Failed() = %v", r, r.Failed())
				}
			}
		})
	}
	many := strings.Repeat("Final-Recipient: rfc822; x@acme.example\nAction: failed\n\n", 3*maxReportRecipients)
	if got := parseDeliveryStatus([]byte(many)); len(got) != maxReportRecipients {
		t.Errorf("%d recipients kept of a hostile report", len(got))
	}
}

func TestParseFeedbackReport(t *testing.T) {
	m := parseString(t, testmail.ARF("f1@isp-mail.example", "ack.sd-1.d.maildesk.0a1b@desk.example", "Jan@Acme.example"), Limits{})
	want := &FeedbackReport{OriginalMessageID: "ack.sd-1.d.maildesk.0a1b@desk.example", Type: "abuse", Recipients: []string{"jan@acme.example"}}
	if !reflect.DeepEqual(m.Feedback, want) {
		t.Fatalf("feedback %+v, want %+v", m.Feedback, want)
	}
	if m.Report != nil {
		t.Errorf("a feedback report is no delivery report: %+v", m.Report)
	}
	f := parseFeedbackReport([]byte("Feedback-Type: fraud\nRemoval-Recipient: a@acme.example\nOriginal-Rcpt-To: <a@acme.example>\nOriginal-Rcpt-To: b@acme.example\n"))
	if f.Type != "fraud" || !reflect.DeepEqual(f.Recipients, []string{"a@acme.example", "b@acme.example"}) {
		t.Errorf("%+v", f)
	}
}

// A DSN inside a message/rfc822 part is read when the mail has no report
// of its own; one level only, and never a returned mail that is no DSN.
func TestParseForwardedReport(t *testing.T) {
	inner := testmail.DSNOf("MAILER-DAEMON@mx.acme.example", "b1@mx.acme.example", "ack.sd-1.d.maildesk.0a1b@desk.example",
		"Final-Recipient: rfc822; jan@acme.example\nAction: failed\nStatus: 5.1.1\n")
	wrap := func(s string) string {
		return "From: gateway@acme.example\nSubject: report\nMessage-ID: <w@acme.example>\nContent-Type: multipart/mixed; boundary=\"W\"\n\n" +
			"--W\nContent-Type: text/plain\n\nattached\n--W\nContent-Type: message/rfc822\n\n" + s + "\n--W--\n"
	}
	m := parseString(t, wrap(inner), Limits{})
	want := &DeliveryReport{OriginalMessageID: "ack.sd-1.d.maildesk.0a1b@desk.example", Forwarded: true,
		Recipients: []ReportRecipient{{Address: "jan@acme.example", Action: "failed", Status: "5.1.1"}}}
	if !reflect.DeepEqual(m.Report, want) {
		t.Fatalf("report %+v, want %+v", m.Report, want)
	}
	if m := parseString(t, wrap(strings.ReplaceAll(wrap(inner), "W", "V")), Limits{}); m.Report != nil {
		t.Errorf("a report two messages deep was read: %+v", m.Report)
	}
	if m := parseString(t, wrap("From: a@b.example\nSubject: hi\nMessage-ID: <x@b.example>\n\nhello\n"), Limits{}); m.Report != nil {
		t.Errorf("a forwarded mail made a report: %+v", m.Report)
	}
	// The mail's own report wins over a forwarded one.
	own := testmail.BounceOfAck[:strings.LastIndex(testmail.BounceOfAck, "--B--")] + "--B\nContent-Type: message/rfc822\n\n" + inner + "\n--B--\n"
	if m := parseString(t, own, Limits{}); m.Report == nil || m.Report.Forwarded || m.Report.Recipients[0].Address != "jan@acme.example" {
		t.Errorf("own report: %+v", m.Report)
	}
}

func FuzzParseDeliveryStatus(f *testing.F) {
	f.Add([]byte("Final-Recipient: rfc822; a@b\r\nAction: failed\r\nStatus: 5.1.1\r\n"))
	f.Add([]byte("Reporting-MTA: dns; mx\nContent-Transfer-Encoding: base64\n\nRmluYWwtUmVjaXBpZW50OiBhQGIK\n"))
	f.Add([]byte("Original-Recipient:rfc822;<a@b>\nStatus:553 no\n\nFinal-Recipient: x\n"))
	f.Add([]byte("Feedback-Type: abuse\nOriginal-Rcpt-To: <a@b>\nRemoval-Recipient: c@d\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs := parseDeliveryStatus(b)
		if len(rs) > maxReportRecipients {
			t.Fatalf("%d recipients", len(rs))
		}
		for _, r := range rs {
			if !strings.Contains(r.Address, "@") || r.Address != strings.ToLower(r.Address) {
				t.Fatalf("address %q", r.Address)
			}
		}
		if f := parseFeedbackReport(b); len(f.Recipients) > maxReportRecipients {
			t.Fatalf("%d feedback recipients", len(f.Recipients))
		}
		headerMessageID(b)
		isDSNHeader(b)
	})
}

func TestParseBounceReport(t *testing.T) {
	m := parseString(t, testmail.BounceOfAck, Limits{})
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
