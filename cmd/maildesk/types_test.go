package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/sla"
)

// `sla due --type`: QiQQ's table through the example and the CLI; the
// deadline on stdout, the rule (and a priority the type lacks) on stderr.
func TestSLADueTypes(t *testing.T) {
	exampleEnv(t)
	qiqq := filepath.Join(examplesDir, "qiqq.yaml")
	dir := t.TempDir()
	own := filepath.Join(dir, "own.yaml")
	os.WriteFile(filepath.Join(dir, "contacts.yaml"), []byte("customers: []\n"), 0o600)
	os.WriteFile(own, []byte(`desk: {id: x, address: desk@x.example, timezone: Europe/Amsterdam}
imap: {address: "127.0.0.1:143", username: u, password: p}
smtp: {address: "127.0.0.1:25"}
calendars: {office: {hours: {mon-fri: ["09:00-17:00"]}}}
plans:
  standard:
    calendar: office
    targets: {P1: {first_response: 4h}}
    default_type: managed
    types: {managed: {targets: {P1: {first_response: 30m}}}, other: {}}
contacts_file: contacts.yaml
`), 0o600)
	tests := []struct {
		file string
		args []string
		out  string
		rule []string // in stderr
	}{
		// Standaard on QiQQ's own services is "nvt": Hoog, one workday
		// (over King's Day).
		{qiqq, []string{"--type", "beheerd", "--priority", "P3", "--at", "2026-04-24T16:00:00+02:00"}, "2026-04-28T16:00:00+02:00", []string{
			"note: type beheerd has no priority P3 (it has P1, P2): a ticket asking for it gets P2\n",
			`rule: plan "standard" (type beheerd has no target of its own for P2): P2, first response 1 workday`,
			"calendar: 2026-04-27 Koningsdag: holiday\n"}},
		{qiqq, []string{"--type", "overig", "--priority", "P3", "--at", "2026-04-23T14:00:00+02:00"}, "2026-04-29T14:00:00+02:00", []string{
			`rule: plan "standard" (type overig has no target of its own for P3): P3, first response 3 workdays`}},
		// Without --type: the default type, functional support.
		{qiqq, []string{"--priority", "p3", "--at", "2026-04-23T14:00:00+02:00"}, "2026-04-29T14:00:00+02:00", []string{"type functioneel"}},
		{qiqq, []string{"--type", "Functioneel", "--priority", "P4", "--at", "2026-04-23T14:00:00+02:00"}, "2026-04-29T14:00:00+02:00", []string{
			"note: type functioneel has no priority P4 (it has P1, P2, P3): a ticket asking for it gets P3"}},
		// The days the calendar treats otherwise are shown with their
		// effect: the web agency's standby Saturday.
		{filepath.Join(examplesDir, "webagency.yaml"), []string{"--plan", "standby", "--priority", "P2", "--at", "2026-12-05T10:00:00+01:00"}, "2026-12-05T10:30:00+01:00", []string{
			"calendar: standby 2026-12-05 to 2026-12-06 08:30-18:00, first response 30m (weekend)\n"}},
		// A type's own target.
		{own, []string{"--priority", "P1", "--at", "2026-03-02T10:00:00+01:00"}, "2026-03-02T10:30:00+01:00", []string{
			`rule: plan "standard", type "managed": P1, first response 30m`}},
		{own, []string{"--type", "other", "--priority", "P1", "--at", "2026-03-02T10:00:00+01:00"}, "2026-03-02T14:00:00+01:00", []string{
			`rule: plan "standard" (type other has no target of its own for P1): P1, first response 4h`}},
		// A plan without types: incident, the plan's rule as it was.
		{filepath.Join(examplesDir, "kwikqy.yaml"), []string{"--type", "incident", "--priority", "P1", "--at", "2026-04-24T15:00:00+02:00"}, "2026-04-28T11:00:00+02:00", []string{
			"rule: plan \"standard\": P1, first response 4h\n"}},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := run(append([]string{"sla", "due", "--config", tt.file, "--plan", "standard"}, tt.args...), &out, &errOut)
		if code != 0 || out.String() != tt.out+"\n" {
			t.Errorf("%s %v: exit %d, %q %s; want %s", filepath.Base(tt.file), tt.args, code, out.String(), errOut.String(), tt.out)
			continue
		}
		for _, r := range tt.rule {
			if !strings.Contains(errOut.String(), r) {
				t.Errorf("%s %v: stderr %q lacks %q", filepath.Base(tt.file), tt.args, errOut.String(), r)
			}
		}
	}
	for _, tt := range []struct{ typ, want string }{
		{"incident", `unknown type "incident" for plan "standard" (want one of beheerd, functioneel, overig, feature_request)`},
		{"feature_request", "type feature_request has no SLA clock"},
	} {
		var out, errOut bytes.Buffer
		if code := run([]string{"sla", "due", "--config", qiqq, "--plan", "standard", "--type", tt.typ, "--priority", "P1", "--at", "2026-04-23T14:00:00+02:00"}, &out, &errOut); code != 1 ||
			out.Len() != 0 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("--type %s: exit %d, %q %q; want %q", tt.typ, code, out.String(), errOut.String(), tt.want)
		}
	}
}

// qiqqSections are the calendars, plans and priority words of QiQQ's
// example, for a desk of the end-to-end tests.
func qiqqSections(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir, "qiqq.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]any
	if err := yaml.Unmarshal(data, &all); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(map[string]any{"calendars": all["calendars"], "plans": all["plans"], "priority": all["priority"]})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// Issue 15.7 end to end through the running daemon with QiQQ's table: a
// mail asking for Standaard is functional support with Standaard's
// deadline; the CLI makes it support on QiQQ's own services (no Standaard:
// Hoog, re-timed from its arrival), the API makes it support on other
// services (Standaard again, as asked) and then Direct on its own services;
// each route refuses a type the plan does not have, naming the plan's, and
// the dashboard names the type.
func TestSupportTypesEndToEnd(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("MAILDESK_HTTP_LISTEN", addr)
	e := newEnv(t, qiqqSections(t))
	stop := e.start()
	defer stop()
	e.deliver(mail("Jan <jan@acme.example>", "Standaard: mailserver traag", "ty1@acme.example"))
	eventually(t, 15*time.Second, "acknowledgement in jan's mailbox", func() bool { return e.count("jan@acme.example", "INBOX") == 1 })

	cfg, err := configload.LoadSecrets(e.config, 0)
	if err != nil {
		t.Fatal(err)
	}
	plans, err := sla.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type shown struct {
		Type, Priority string
		SLA            struct {
			Type             string
			Language         string
			Arrival          time.Time
			FirstResponseDue time.Time `json:"first_response_due"`
		} `json:"sla"`
	}
	show := func() shown {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run([]string{"tickets", "show", "--json", "--config", e.config, "SD-1"}, &out, &errOut); code != 0 {
			t.Fatalf("tickets show: %d %s", code, errOut.String())
		}
		var s shown
		if err := json.Unmarshal(out.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The deadline a ticket of typ and priority has from its arrival.
	check := func(route, typ, prio string) {
		t.Helper()
		s := show()
		d, err := plans.DueOfType("standard", typ, prio, s.SLA.Language, s.SLA.Arrival)
		if err != nil {
			t.Fatal(err)
		}
		if s.Type != typ || s.Priority != prio || s.SLA.Type != typ || !s.SLA.FirstResponseDue.Equal(d.FirstResponse) {
			t.Fatalf("after %s: %s %s, clock %s due %v; want %s %s due %v", route, s.Type, s.Priority, s.SLA.Type, s.SLA.FirstResponseDue, typ, prio, d.FirstResponse)
		}
	}
	check("the mail", "functioneel", "P3")

	set := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"tickets", "set", "--config", e.config, "SD-1", "--as", "Alice"}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := set("type=Beheerd"); code != 0 || !strings.Contains(out, ", P2, beheerd") {
		t.Fatalf("tickets set type=beheerd: %d %s", code, out)
	}
	check("the CLI", "beheerd", "P2")
	eventually(t, 15*time.Second, "the progress mail in jan's mailbox", func() bool { return e.count("jan@acme.example", "INBOX") == 2 })
	if code, out := set("priority=P3"); code == 0 || !strings.Contains(out, "type beheerd has no priority P3 (it has P1, P2)") {
		t.Fatalf("tickets set priority=P3 on own services: %d %s", code, out)
	}
	if code, out := set("type=question"); code == 0 || !strings.Contains(out, `unknown type "question" for plan "standard" (want one of beheerd, functioneel, overig, feature_request)`) {
		t.Fatalf("tickets set type=question: %d %s", code, out)
	}

	patch := func(body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("PATCH", "http://"+addr+"/api/v1/tickets/SD-1", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := patch(`{"type": "overig"}`); code != 200 {
		t.Fatalf("PATCH type overig: %d %s", code, body)
	}
	check("the API", "overig", "P3")
	if code, body := patch(`{"type": "incident"}`); code != 400 || !strings.Contains(body, `unknown type \"incident\"`) || !strings.Contains(body, "beheerd, functioneel, overig, feature_request") {
		t.Fatalf("PATCH type incident: %d %s", code, body)
	}
	if code, body := patch(`{"type": "beheerd", "priority": "P1", "reason": "alle kassa's liggen plat"}`); code != 200 {
		t.Fatalf("PATCH type beheerd P1: %d %s", code, body)
	}
	check("the API", "beheerd", "P1")

	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The desk's language is English.
	if !strings.Contains(string(page), `<span class="type muted">Technical support on services QiQQ provides</span>`) {
		t.Errorf("dashboard does not name the type:\n%s", page)
	}
}
