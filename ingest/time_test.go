package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/maildesk/maildesk/ticket"
)

func TestParseTimeCommand(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		arg  string
		want timeCommand
	}{
		{"45m", timeCommand{duration: 45 * time.Minute}},
		{"45m remote", timeCommand{duration: 45 * time.Minute, activity: "remote"}},
		{"1:30 on_site at 14:00 printer replaced", timeCommand{duration: 90 * time.Minute, activity: "on_site", at: "14:00", note: "printer replaced"}},
		{"1h at 2026-11-20 14:00", timeCommand{duration: time.Hour, at: "2026-11-20 14:00"}},
		{"1h AT 2026-11-20T14:00:00+01:00 bill", timeCommand{duration: time.Hour, at: "2026-11-20T14:00:00+01:00", billable: &yes}},
		{"20m travel nobill back from the customer", timeCommand{duration: 20 * time.Minute, activity: "travel", billable: &no, note: "back from the customer"}},
		{"20m nobill", timeCommand{duration: 20 * time.Minute, billable: &no}},
	} {
		got, err := parseTime(tc.arg)
		if err != nil {
			t.Errorf("%q: %v", tc.arg, err)
			continue
		}
		g, w := *got, tc.want
		g.billable, w.billable = nil, nil
		if fmt.Sprint(g) != fmt.Sprint(w) || (got.billable == nil) != (tc.want.billable == nil) ||
			got.billable != nil && *got.billable != *tc.want.billable {
			t.Errorf("%q: %+v, want %+v", tc.arg, *got, tc.want)
		}
	}
	for _, bad := range []string{"", "remote 45m", "soon", "45m remote at", "45m remote at tomorrow", "45m at 25:00"} {
		if got, err := parseTime(bad); err == nil {
			t.Errorf("%q: %+v, want an error", bad, *got)
		}
	}
}

// FuzzParseTimeCommand: #time comes from mail; reading it never panics,
// and its note is a part of the line (the workflow judges the rest).
func FuzzParseTimeCommand(f *testing.F) {
	for _, s := range []string{"45m remote", "1:30 on_site at 2026-11-20 14:00 x", "1h at", "20m travel nobill y", "-5m", "99999h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tc, err := parseTime(s)
		if err != nil {
			return
		}
		if utf8.ValidString(s) && !utf8.ValidString(tc.note) {
			t.Errorf("note %q from %q", tc.note, s)
		}
		if len(tc.note) > len(s) {
			t.Errorf("note longer than the line")
		}
	})
}

// #time in an agent's mail records work on the ticket: alone, before a
// reply, with other commands; a replayed mail records nothing twice; a
// bad #time rejects the whole mail.
func TestAgentMailTime(t *testing.T) {
	p, store, rdb, _ := newDesk(t)
	ctx := context.Background()
	newTicket := func(i int) string {
		t.Helper()
		res, err := p.Process(ctx, strings.NewReader(fmt.Sprintf("From: Jan <jan@acme.example>\nSubject: Printer\nMessage-ID: <t%d@acme.example>\n\nkapot\n", i)), ticket.Source{})
		if err != nil || res.Outcome != Processed {
			t.Fatalf("%+v %v", res, err)
		}
		return res.Ticket
	}
	agentMail := func(i int, number, date, body string) Result {
		t.Helper()
		raw := fmt.Sprintf("From: Eva <eva@desk.example>\nTo: desk@desk.example\nMessage-ID: <time%d@desk.example>\nSubject: Re: [%s]\n%s%s\n%s",
			i, number, date, agentAuth, body)
		res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{Mailbox: "INBOX", UID: uint32(500 + i)})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	records := func(number string) []ticket.TimeRecord {
		t.Helper()
		rs, err := store.TimeRecords(ctx, number)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}

	// Alone: the work ended when the mail was sent (its Date).
	n1 := newTicket(1)
	_, mark := outboxSince(t, rdb, "0")
	res := agentMail(1, n1, "Date: Sat, 21 Nov 2026 09:40:00 +0000\n", "#time 45m remote\n\n-- \nEva\n")
	if res.Outcome != Processed || res.Ticket != n1 || res.Replay {
		t.Fatalf("%+v", res)
	}
	rs := records(n1)
	if len(rs) != 1 || rs[0].Minutes != 45 || rs[0].Activity != "remote" || !rs[0].Billable || rs[0].Via != "mail" ||
		!rs[0].Start.Equal(time.Date(2026, 11, 21, 8, 55, 0, 0, time.UTC)) || rs[0].Agent != "Eva de Vries <eva@desk.example>" {
		t.Fatalf("records %+v", rs)
	}
	if sent, _ := outboxSince(t, rdb, mark); len(sent) != 0 {
		t.Errorf("time alone mailed %s", kindsOf(sent))
	}
	if got := eventKinds(t, store, n1); got != "time" {
		t.Errorf("events %q", got)
	}
	// The same mail again (a crash before it was moved) is a replay.
	if res := agentMail(1, n1, "Date: Sat, 21 Nov 2026 09:40:00 +0000\n", "#time 45m remote\n"); !res.Replay || len(records(n1)) != 1 {
		t.Fatalf("replay: %+v, %d records", res, len(records(n1)))
	}

	// With a reply: the time is recorded and the reply goes out.
	n2 := newTicket(2)
	_, mark = outboxSince(t, rdb, "0")
	res = agentMail(2, n2, "", "#time 1h30m on_site at 2026-11-20 14:00 printer replaced\n\nThe printer works again.\n")
	if res.Outcome != Processed {
		t.Fatalf("%+v", res)
	}
	rs = records(n2)
	if len(rs) != 1 || rs[0].Activity != "on_site" || rs[0].Note != "printer replaced" || rs[0].Minutes != 90 ||
		!rs[0].Start.Equal(time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)) {
		t.Fatalf("records %+v", rs)
	}
	if sent, _ := outboxSince(t, rdb, mark); kindsOf(sent) != "reply:jan@acme.example" {
		t.Errorf("sent %s", kindsOf(sent))
	}
	if got := eventKinds(t, store, n2); got != "time agent_reply" {
		t.Errorf("events %q", got)
	}
	if res := agentMail(2, n2, "", "#time 1h30m on_site at 2026-11-20 14:00 printer replaced\n\nThe printer works again.\n"); !res.Replay || len(records(n2)) != 1 {
		t.Fatalf("replay: %+v", res)
	}

	// With other commands and no text.
	n3 := newTicket(3)
	res = agentMail(3, n3, "", "#time 20m travel nobill\n#assign Eva\n")
	tk, _ := store.Get(ctx, n3)
	if rs = records(n3); res.Outcome != Processed || len(rs) != 1 || rs[0].Billable || tk.Assignee != "Eva" {
		t.Fatalf("%+v %+v %q", res, rs, tk.Assignee)
	}

	// A bad #time rejects the mail: nothing is recorded or changed.
	n4 := newTicket(4)
	for i, body := range map[int]string{4: "#time 45m coffee\nDone.\n", 5: "#time soon\n", 6: "#assign Bob\n#time 30m at tomorrow\n", 7: "#time 30m\n#time 15m\n"} {
		res := agentMail(i, n4, "", body)
		if res.Outcome != Rejected {
			t.Errorf("%q: %+v", body, res)
		}
	}
	tk, _ = store.Get(ctx, n4)
	if len(records(n4)) != 0 || tk.Assignee != "" {
		t.Errorf("a rejected mail changed the ticket: %+v %q", records(n4), tk.Assignee)
	}
	rej, _ := store.Rejections(ctx)
	var reasons []string
	for _, r := range rej {
		reasons = append(reasons, r.Reason)
	}
	for _, want := range []string{`unknown activity "coffee"`, "the duration comes first", "at tomorrow", "#time given twice"} {
		if !strings.Contains(strings.Join(reasons, "\n"), want) {
			t.Errorf("no rejection says %q:\n%s", want, strings.Join(reasons, "\n"))
		}
	}
}
