package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/notify"
)

// failTo fails every send to one address temporarily.
type failTo string

func (f failTo) Send(_ context.Context, n notify.Notification) error {
	if n.To == string(f) {
		return errors.New("dial tcp 127.0.0.1:25: connection refused")
	}
	return nil
}

func TestOutboxCLI(t *testing.T) {
	c := newContactsDesk(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: c.redis.Addr})
	defer rdb.Close()
	ob := notify.NewOutbox(rdb, "acme-it")
	if err := ob.Init(ctx); err != nil {
		t.Fatal(err)
	}
	add := func(n notify.Notification) {
		t.Helper()
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: ob.Key(), Values: n.Fields()}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	add(notify.Notification{ID: "SD-1/ack", Kind: notify.Ack, To: "jan@acme.example", Ticket: "SD-1"})
	d := &notify.Delivery{Outbox: ob, Sender: failTo("jan@acme.example"), Consumer: "replica-a", Retry: time.Hour}
	if st, err := d.Drain(ctx); err != nil || st.Failed != 1 {
		t.Fatalf("drain %+v %v", st, err)
	}
	// The delivery records the failure; set it here so that this test does
	// not depend on its wording.
	failed, _ := rdb.XRange(ctx, ob.Key(), "-", "+").Result()
	rdb.HSet(ctx, "md:{acme-it}:outbox:errors", failed[0].ID, "attempt 1: connection refused\n(twice)")
	add(notify.Notification{ID: "SD-2/ack", Kind: notify.Ack, To: "piet@acme.example", Ticket: "SD-2"})

	cli := func(args ...string) (int, string, string) {
		t.Helper()
		full := append([]string{"outbox", args[0], "--config", c.config}, args[1:]...)
		var out, errOut bytes.Buffer
		code := run(full, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := cli(args...)
		if code != 0 {
			t.Fatalf("maildesk outbox %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		return out
	}

	out := must("list")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("list:\n%s", out)
	}
	// Aligned columns: every header starts where its values start.
	for _, col := range []string{"NOTIFICATION", "ATTEMPTS", "LAST-ERROR"} {
		at := strings.Index(lines[0], col)
		for _, l := range lines[1:] {
			if at < 0 || len(l) <= at || l[at-1] != ' ' || l[at] == ' ' {
				t.Fatalf("column %s not aligned:\n%s", col, out)
			}
		}
	}
	row := regexp.MustCompile(`^\d+-\d+ +SD-1/ack +ack +SD-1 +jan@acme\.example +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +retrying +1 +\d+s +attempt 1: connection refused \(twice\)$`)
	if !row.MatchString(lines[1]) {
		t.Errorf("failed entry row: %q", lines[1])
	}
	if !regexp.MustCompile(`SD-2/ack .* new +0 +- +-$`).MatchString(lines[2]) {
		t.Errorf("new entry row (newest last): %q", lines[2])
	}

	var listed []struct {
		StreamID  string `json:"stream_id"`
		ID        string `json:"id"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"last_error"`
	}
	if err := json.Unmarshal([]byte(must("list", "--json")), &listed); err != nil || len(listed) != 2 ||
		listed[0].ID != "SD-1/ack" || listed[0].Attempts != 1 || listed[0].LastError == "" {
		t.Fatalf("list --json: %+v %v", listed, err)
	}

	// Flags after the ids, as in the usage text.
	out = must("drop", "SD-2/ack", "--reason", "sent by hand")
	if !strings.Contains(out, "dropped SD-2/ack") || !strings.Contains(out, "recorded as dead letter") {
		t.Errorf("drop: %s", out)
	}
	out = must("list", "--dead")
	if !strings.Contains(out, "REASON") || !strings.Contains(out, "dropped by operator: sent by hand") {
		t.Errorf("list --dead:\n%s", out)
	}
	out = must("retry", "--all-dead")
	if !strings.Contains(out, "requeued SD-2/ack") {
		t.Errorf("retry --all-dead: %s", out)
	}
	out = must("retry", listed[0].StreamID)
	if !strings.Contains(out, "SD-1/ack") || !strings.Contains(out, "1 attempts) is due now") {
		t.Errorf("retry pending: %s", out)
	}
	if n, _ := ob.Depth(ctx); n != 2 {
		t.Fatalf("depth %d", n)
	}
	if out := must("list"); !regexp.MustCompile(`SD-1/ack .* 1 +retry now +attempt 1: connection refused`).MatchString(out) {
		t.Errorf("list after retry:\n%s", out)
	}

	// Unknown ids: each named, exit 1, the known ones still done.
	code, _, errOut := cli("retry", "SD-99/ack", "SD-2/ack")
	if code != 1 || !strings.Contains(errOut, "SD-99/ack") || !strings.Contains(errOut, "1 of 2 failed") {
		t.Errorf("retry unknown: exit %d: %s", code, errOut)
	}
	if code, _, errOut := cli("drop", "SD-1/ack"); code != 2 || !strings.Contains(errOut, "--reason") {
		t.Errorf("drop without reason: exit %d: %s", code, errOut)
	}
}

// silentAfterData stands in for a relay that takes the whole message and
// never answers its end.
type silentAfterData struct{}

func (silentAfterData) Send(context.Context, notify.Notification) error {
	return &notify.SMTPError{Stage: notify.StageDataEnd, Err: errors.New("read tcp: i/o timeout")}
}

// A mail whose delivery is uncertain is shown as such by outbox list, and
// outbox retry is what sends it again.
func TestOutboxCLIUncertain(t *testing.T) {
	c := newContactsDesk(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: c.redis.Addr})
	defer rdb.Close()
	ob := notify.NewOutbox(rdb, "acme-it")
	if err := ob.Init(ctx); err != nil {
		t.Fatal(err)
	}
	n := notify.Notification{ID: "SD-1/ack", Kind: notify.Ack, To: "jan@acme.example", Ticket: "SD-1"}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: ob.Key(), Values: n.Fields()}).Err(); err != nil {
		t.Fatal(err)
	}
	d := &notify.Delivery{Outbox: ob, Sender: silentAfterData{}, Consumer: "replica-a", Retry: time.Hour}
	if st, err := d.Drain(ctx); err != nil || st.Uncertain != 1 {
		t.Fatalf("drain %+v %v", st, err)
	}
	cli := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(append([]string{"outbox", args[0], "--config", c.config}, args[1:]...), &out, &errOut); code != 0 {
			t.Fatalf("maildesk outbox %v: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	if out := cli("list"); !regexp.MustCompile(`SD-1/ack .* uncertain since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d +1 .*delivery uncertain`).MatchString(out) {
		t.Errorf("list:\n%s", out)
	}
	var listed []struct {
		State          string `json:"state"`
		UncertainSince string `json:"uncertain_since"`
	}
	if err := json.Unmarshal([]byte(cli("list", "--json")), &listed); err != nil || len(listed) != 1 ||
		listed[0].State != "uncertain" || listed[0].UncertainSince == "" {
		t.Fatalf("list --json: %+v %v", listed, err)
	}
	if out := cli("retry", "SD-1/ack"); !strings.Contains(out, "whose delivery was uncertain, is due now") {
		t.Errorf("retry: %s", out)
	}
	if out := cli("list"); !strings.Contains(out, "retrying") || !strings.Contains(out, "retry now") {
		t.Errorf("list after retry:\n%s", out)
	}
}
