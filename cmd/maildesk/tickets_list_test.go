package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/ticket"
)

// `maildesk tickets list` shows the open tickets by default, newest first,
// a page at a time; --all, --status, --customer, --contact, --since,
// --limit and --cursor narrow or widen it. `tickets check` finds drift in
// the indexes and --repair mends it.
func TestTicketsListAndCheck(t *testing.T) {
	c := newContactsDesk(t)
	ctx := context.Background()
	d := c.daemon(&testserver.Buffer{})
	at := time.Now().Add(-72 * time.Hour).UTC()
	for i, n := range []ticket.New{
		{Subject: "Printer on fire", Customer: "acme", Contact: "jan@acme.example"},
		{Subject: "VPN down", Customer: "acme", Contact: "piet@acme.example"},
		{Subject: "Old question", Customer: "oxi", Contact: "a@oxi.example"},
		{Subject: "Printer toner", Customer: "oxi", Contact: "a@oxi.example"},
	} {
		n.CreatedAt, n.Priority = at.Add(time.Duration(i)*24*time.Hour), "P3"
		if _, err := d.store.Create(ctx, fmt.Sprint("m", i), n, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.store.Apply(ctx, "SD-3", ticket.Change{At: at, Status: ticket.StatusClosed}, nil); err != nil {
		t.Fatal(err)
	}
	list := func(args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(append([]string{"tickets", "list", "--config", c.config, "--json"}, args...), &out, &errOut); code != 0 {
			t.Fatalf("tickets list %v: exit %d %s", args, code, errOut.String())
		}
		var ts []ticket.Ticket
		if err := json.Unmarshal(out.Bytes(), &ts); err != nil {
			t.Fatalf("tickets list %v: %v\n%s", args, err, out.String())
		}
		var ns []string
		for _, tk := range ts {
			ns = append(ns, tk.Number)
		}
		return strings.Join(ns, " "), errOut.String()
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "SD-4 SD-2 SD-1"},
		{[]string{"--all"}, "SD-4 SD-3 SD-2 SD-1"},
		{[]string{"--status", "closed"}, "SD-3"},
		{[]string{"--customer", "oxi", "--all"}, "SD-4 SD-3"},
		{[]string{"--contact", "JAN@acme.example"}, "SD-1"},
		{[]string{"--since", "12h", "--all"}, "SD-4"},
		{[]string{"--since", "36h", "--all"}, "SD-4 SD-3"},
		{[]string{"--search", "printer"}, "SD-4 SD-1"},
	} {
		if got, _ := list(tc.args...); got != tc.want {
			t.Errorf("tickets list %v = %q, want %q", tc.args, got, tc.want)
		}
	}
	first, more := list("--all", "--limit", "3")
	cursor, ok := strings.CutPrefix(strings.TrimSpace(more), "more tickets: add --cursor ")
	if first != "SD-4 SD-3 SD-2" || !ok {
		t.Fatalf("first page %q, stderr %q", first, more)
	}
	if rest, more := list("--all", "--limit", "3", "--cursor", cursor); rest != "SD-1" || more != "" {
		t.Errorf("second page %q, stderr %q", rest, more)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"tickets", "list", "--config", c.config, "--status", "done"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unknown status "done"`) {
		t.Errorf("--status done: exit %d %s", code, errOut.String())
	}

	check := func(args ...string) (int, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(append([]string{"tickets", "check", "--config", c.config}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := check(); code != 0 || !strings.Contains(out, "4 tickets: 0 index entries missing, 0 stale") {
		t.Fatalf("check: exit %d %s", code, out)
	}
	rdb := redis.NewClient(&redis.Options{Addr: c.redis.Addr})
	defer rdb.Close()
	rdb.ZRem(ctx, "md:{acme-it}:idx:open", "SD-2")
	if code, out := check(); code != 1 || !strings.Contains(out, "1 index entries missing") || !strings.Contains(out, "SD-2: not in idx:open") || !strings.Contains(out, "--repair") {
		t.Fatalf("check of a broken index: exit %d %s", code, out)
	}
	if got, _ := list(); got != "SD-4 SD-1" {
		t.Errorf("open before the repair = %q", got)
	}
	if code, out := check("--repair"); code != 0 || !strings.Contains(out, "repaired") {
		t.Fatalf("check --repair: exit %d %s", code, out)
	}
	if got, _ := list(); got != "SD-4 SD-2 SD-1" {
		t.Errorf("open after the repair = %q", got)
	}
}
