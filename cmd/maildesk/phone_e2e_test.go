package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Tickets taken by phone (QiQQ, the web agency: "Wij nemen uw melding dan
// aan en maken hier direct een ticket van"), end to end on real Redis,
// Dovecot and SMTP: an agent opens one with the CLI and one through the API;
// each gets the call's time as its SLA start, its contact the
// acknowledgement, and the contact's reply to it threads into the ticket;
// an unknown contact is refused; a replay with the same idempotency key
// opens nothing twice.
func TestPhoneTicketsEndToEnd(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("MAILDESK_HTTP_LISTEN", addr)
	e := newEnv(t, `calendars:
  always: {hours: {mon-sun: ["00:00-24:00"]}}
plans:
  standard: {calendar: always, targets: {P2: {first_response: 4h}, P3: {first_response: 8h}}}
`)
	stop := e.start()
	defer stop()
	// The daemon starts in its own goroutine: on a loaded machine the
	// CLI below is done before it listens.
	eventually(t, 20*time.Second, "the daemon's HTTP listener", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})

	cli := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(append([]string{"tickets", "open", "--config", e.config}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	call := func(method, path, body string, hdr ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	type shownTicket struct {
		Ticket struct {
			Number, Channel, Status, Priority, Contact string
			OpenedBy                                   string    `json:"opened_by"`
			CreatedAt                                  time.Time `json:"created_at"`
			SLA                                        *struct {
				Arrival          time.Time `json:"arrival"`
				Start            time.Time `json:"start"`
				FirstResponseDue time.Time `json:"first_response_due"`
			} `json:"sla"`
		} `json:"ticket"`
		Events []struct{ Kind, From, Channel string } `json:"events"`
	}
	show := func(number string) shownTicket {
		t.Helper()
		code, body := call("GET", "/api/v1/tickets/"+number, "")
		var s shownTicket
		if err := json.Unmarshal([]byte(body), &s); code != 200 || err != nil {
			t.Fatalf("show %s: %d %v %s", number, code, err, body)
		}
		return s
	}
	history := func(s shownTicket) string {
		var out []string
		for _, ev := range s.Events {
			out = append(out, strings.TrimSpace(ev.Kind+" by "+ev.From+" "+ev.Channel))
		}
		return strings.Join(out, ", ")
	}
	// The acknowledgement in user's mailbox whose subject has tag.
	ack := func(user, tag string) []byte {
		t.Helper()
		var found []byte
		eventually(t, 15*time.Second, "the acknowledgement of "+tag+" in "+user+"'s mailbox", func() bool {
			for _, m := range e.dc.Mailbox(t, user, "INBOX") {
				if strings.Contains(header(m.Raw, "Subject"), tag) {
					found = m.Raw
					return true
				}
			}
			return false
		})
		return found
	}

	// By the CLI: Jan called twenty minutes ago.
	at := time.Now().Add(-20 * time.Minute).Truncate(time.Second)
	args := []string{"--customer", "acme", "--contact", "jan@acme.example", "--subject", "Printer kapot",
		"--message", "Jan belde: de printer op de tweede verdieping doet niets meer.", "--at", at.Format(time.RFC3339),
		"--as", "Alice", "--idempotency-key", "call-1"}
	code, out, errOut := cli(args...)
	if code != 0 || !strings.HasPrefix(out, "SD-1: opened for jan@acme.example (acme) by phone, new, P3, incident, first response due ") {
		t.Fatalf("tickets open: %d %q %s", code, out, errOut)
	}
	// The agent is not sure it went through, and runs it again.
	if code, out, errOut = cli(args...); code != 0 || !strings.HasPrefix(out, "SD-1: already opened with this idempotency key") {
		t.Fatalf("tickets open again: %d %q %s", code, out, errOut)
	}
	s := show("SD-1")
	tk := s.Ticket
	if tk.Channel != "phone" || tk.OpenedBy != "Alice" || !tk.CreatedAt.Equal(at) || tk.SLA == nil || !tk.SLA.Arrival.Equal(at) ||
		!tk.SLA.Start.Equal(at) || !tk.SLA.FirstResponseDue.Equal(at.Add(8*time.Hour)) {
		t.Errorf("SD-1 %+v, SLA %+v: want phone, opened by Alice, the clock started at %v", tk, tk.SLA, at)
	}
	raw := ack("jan@acme.example", "[SD-1] Printer kapot")
	if !bytes.Contains(raw, []byte("telefonisch aangenomen")) || header(raw, "In-Reply-To") != "" {
		t.Errorf("acknowledgement as jan sees it:\n%s", raw)
	}
	// Jan answers it, without the tag: it threads by its Message-ID.
	e.deliver(mail("Jan <jan@acme.example>", "Re: Printer", "r1@acme.example", "In-Reply-To: "+header(raw, "Message-ID")))
	eventually(t, 15*time.Second, "jan's reply on SD-1", func() bool { return strings.Contains(history(show("SD-1")), "reply by jan@acme.example") })
	if h := history(show("SD-1")); !strings.HasPrefix(h, "opened by Alice phone") {
		t.Errorf("SD-1's history: %s", h)
	}
	var shown, showErr bytes.Buffer
	if code := run([]string{"tickets", "show", "--config", e.config, "SD-1"}, &shown, &showErr); code != 0 ||
		!strings.Contains(shown.String(), "Channel:      phone, opened by Alice") || !strings.Contains(shown.String(), "opened by Alice (phone)") {
		t.Errorf("tickets show: %d %s\n%s", code, showErr.String(), shown.String())
	}

	// Refused: a stranger, and a contact for another customer.
	code, _, errOut = cli("--customer", "acme", "--contact", "stranger@elsewhere.example", "--subject", "S", "--message", "M")
	if code != 1 || !strings.Contains(errOut, "stranger@elsewhere.example may not open tickets for acme (unknown sender)") {
		t.Errorf("unknown contact: %d %s", code, errOut)
	}

	// By the API: Piet came by an hour ago, with a P2.
	at2 := time.Now().Add(-time.Hour).Truncate(time.Second)
	body := `{"customer": "acme", "contact": "piet@acme.example", "subject": "VPN werkt niet", "message": "Piet kwam langs: VPN werkt niet.", "channel": "in_person", "priority": "P2", "at": "` + at2.Format(time.RFC3339) + `"}`
	if code, b := call("POST", "/api/v1/tickets", body, "Idempotency-Key", "visit-7"); code != 201 || !strings.Contains(b, `"number":"SD-2"`) {
		t.Fatalf("POST /api/v1/tickets: %d %s", code, b)
	}
	if code, b := call("POST", "/api/v1/tickets", body, "Idempotency-Key", "visit-7"); code != 200 || !strings.Contains(b, `"number":"SD-2"`) {
		t.Fatalf("replayed POST /api/v1/tickets: %d %s", code, b)
	}
	if code, b := call("POST", "/api/v1/tickets", `{"customer": "acme", "contact": "nobody@acme.example", "subject": "S", "message": "M"}`); code != 403 ||
		!strings.Contains(b, "nobody@acme.example may not open tickets for acme (unknown sender)") {
		t.Errorf("unknown contact by the API: %d %s", code, b)
	}
	s = show("SD-2")
	if tk := s.Ticket; tk.Channel != "in_person" || tk.OpenedBy != "local" || tk.Priority != "P2" || tk.SLA == nil ||
		!tk.SLA.Start.Equal(at2) || !tk.SLA.FirstResponseDue.Equal(at2.Add(4*time.Hour)) {
		t.Errorf("SD-2 %+v, SLA %+v", tk, tk.SLA)
	}
	raw = ack("piet@acme.example", "[SD-2] VPN werkt niet")
	e.deliver(mail("Piet <piet@acme.example>", "Re: VPN", "r2@acme.example", "In-Reply-To: "+header(raw, "Message-ID")))
	eventually(t, 15*time.Second, "piet's reply on SD-2", func() bool { return strings.Contains(history(show("SD-2")), "reply by piet@acme.example") })

	// Two tickets, one acknowledgement each, nothing else to the contacts.
	if ts := e.tickets(); len(ts) != 2 {
		t.Errorf("tickets %+v, want SD-1 and SD-2", ts)
	}
	acks := 0
	for _, m := range e.smtp.Messages() {
		if to := strings.Join(m.To, ","); strings.Contains(to, "@acme.example") {
			acks++
		}
	}
	if acks != 2 {
		t.Errorf("%d mails to the contacts, want two acknowledgements", acks)
	}
	// The dashboard shows both with their channel.
	if code, page := call("GET", "/", ""); code != 200 || !strings.Contains(page, `Printer kapot <span class="channel">(phone)</span>`) ||
		!strings.Contains(page, `VPN werkt niet <span class="channel">(in person)</span>`) {
		t.Errorf("dashboard %d:\n%s", code, page)
	}
}
