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

// Working a ticket end to end through the running daemon: an agent
// answers through the API, the customer gets the answer in their mailbox
// threaded under their mail, the CLI changes the status and the customer is
// told, an agent's mail with a command line is applied, and the dashboard
// shows what is open.
func TestWorkingTicketsEndToEnd(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("MAILDESK_HTTP_LISTEN", addr)
	e := newEnv(t, "")
	stop := e.start()
	defer stop()
	e.deliver(mail("Jan <jan@acme.example>", "Printer kapot", "m1@acme.example"))
	eventually(t, 15*time.Second, "acknowledgement in jan's mailbox", func() bool { return e.count("jan@acme.example", "INBOX") == 1 })

	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The mail is in the mailbox a moment before the desk records it as
	// delivered (new -> acknowledged, the history's first change).
	eventually(t, 15*time.Second, "SD-1 acknowledged", func() bool {
		_, body := call("GET", "/api/v1/tickets/SD-1", "")
		return strings.Contains(body, `"status":"acknowledged"`)
	})
	if code, body := call("POST", "/api/v1/tickets/SD-1/reply", `{"message": "We vervangen de toner vandaag."}`); code != 200 {
		t.Fatalf("reply: %d %s", code, body)
	}
	eventually(t, 15*time.Second, "the agent's reply in jan's mailbox", func() bool { return e.count("jan@acme.example", "INBOX") == 2 })
	var reply []byte
	for _, m := range e.dc.Mailbox(t, "jan@acme.example", "INBOX") {
		if strings.Contains(header(m.Raw, "Subject"), "Re: Printer kapot") {
			reply = m.Raw
		}
	}
	if reply == nil || header(reply, "In-Reply-To") != "<m1@acme.example>" || header(reply, "Auto-Submitted") != "" ||
		!bytes.Contains(reply, []byte("toner vandaag")) {
		t.Fatalf("reply as jan sees it:\n%s", reply)
	}
	// The customer's answer to it threads back to SD-1, by its Message-ID.
	e.deliver(mail("Jan <jan@acme.example>", "Re: [SD-1] Re: Printer kapot", "m2@acme.example", "In-Reply-To: "+header(reply, "Message-ID")))
	eventually(t, 15*time.Second, "jan's answer on SD-1", func() bool {
		_, body := call("GET", "/api/v1/tickets/SD-1", "")
		return strings.Contains(body, "m2@acme.example")
	})

	var out, errOut bytes.Buffer
	if code := run([]string{"tickets", "set", "--config", e.config, "SD-1", "status=resolved", "--as", "Alice"}, &out, &errOut); code != 0 {
		t.Fatalf("tickets set: %d %s", code, errOut.String())
	}
	eventually(t, 15*time.Second, "the progress mail in jan's mailbox", func() bool { return e.count("jan@acme.example", "INBOX") == 3 })

	code, body := call("GET", "/api/v1/tickets/SD-1", "")
	var shown struct {
		Ticket struct {
			Status, Assignee string
			FirstResponseAt  *time.Time `json:"first_response_at"`
		} `json:"ticket"`
		Events []struct{ Kind, From string } `json:"events"`
	}
	if err := json.Unmarshal([]byte(body), &shown); code != 200 || err != nil {
		t.Fatalf("show: %d %v %s", code, err, body)
	}
	var kinds []string
	for _, ev := range shown.Events {
		kinds = append(kinds, ev.Kind+" by "+ev.From)
	}
	want := "change by maildesk, agent_reply by local, reply by jan@acme.example, change by Alice"
	if shown.Ticket.Status != "resolved" || shown.Ticket.FirstResponseAt == nil || strings.Join(kinds, ", ") != want {
		t.Errorf("SD-1 is %+v with history %q, want resolved, answered, %q", shown.Ticket, kinds, want)
	}

	// The dashboard lists open tickets only: SD-1 is resolved.
	e.deliver(mail("Piet <piet@acme.example>", "VPN <b>traag</b>", "m3@acme.example"))
	eventually(t, 15*time.Second, "SD-2", func() bool { return len(e.tickets()) == 2 })
	code, page := call("GET", "/", "")
	if code != 200 || !strings.Contains(page, "SD-2") || strings.Contains(page, "SD-1<") || !strings.Contains(page, "VPN &lt;b&gt;traag&lt;/b&gt;") {
		t.Errorf("dashboard %d:\n%s", code, page)
	}
}
