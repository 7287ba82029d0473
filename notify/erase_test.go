package notify

import (
	"context"
	"strings"
	"testing"
	"time"
)

// After an erasure no delivery record names the person: the markers whose
// notification id ends in their address (sent, traced, uncertain) and the
// records kept for bounces of mail to them. Other people's stay.
func TestErasePersonLeavesNoDeliveryRecords(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	if _, err := ob.Secret(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []Notification{
		{ID: "SD-1/ack", Kind: Ack, To: "Jan <Jan@Acme.example>", Ticket: "SD-1"},
		{ID: TicketEventID("SD-1", AgentReply, time.Unix(1, 0), "jan@acme.example"), Kind: AgentReply, To: "jan@acme.example", Ticket: "SD-1"},
		{ID: TicketEventID("SD-2", AgentReply, time.Unix(1, 0), "piet@acme.example"), Kind: AgentReply, To: "piet@acme.example", Ticket: "SD-2"},
	} {
		enqueue(t, rdb, ob, "", n)
	}
	if st, err := (&Delivery{Outbox: ob, Sender: &scripted{}, Consumer: "t"}).Drain(ctx); err != nil || st.Sent != 3 {
		t.Fatalf("drain %+v %v", st, err)
	}
	jan := TicketEventID("SD-1", AgentReply, time.Unix(1, 0), "jan@acme.example")
	for _, k := range []string{ob.tracedKey(jan, false), ob.tracedKey(jan, true), ob.uncertainKey(jan), ob.restoredKey(jan)} {
		rdb.Set(ctx, k, "1", time.Hour)
	}
	mentions := func(who string) []string {
		var out []string
		for _, k := range rdb.Keys(ctx, "md:{acme-it}:*").Val() {
			if strings.Contains(k, who) {
				out = append(out, k)
				continue
			}
			if strings.Contains(k, ":sentmail:") && strings.EqualFold(rdb.HGet(ctx, k, "to").Val(), who) {
				out = append(out, k+" (to)")
			}
		}
		return out
	}
	if len(mentions("jan@acme.example")) < 6 || len(mentions("piet@acme.example")) != 2 {
		t.Fatalf("before the erasure: jan %v, piet %v", mentions("jan@acme.example"), mentions("piet@acme.example"))
	}
	if _, err := ob.ErasePerson(ctx, "JAN@acme.example"); err != nil {
		t.Fatal(err)
	}
	if err := ob.EraseDeliveryRecords(ctx, "JAN@acme.example"); err != nil {
		t.Fatal(err)
	}
	if left := mentions("jan@acme.example"); len(left) > 0 {
		t.Errorf("records naming jan after the erasure: %v", left)
	}
	if left := mentions("piet@acme.example"); len(left) != 2 {
		t.Errorf("piet's records = %v, want his sent marker and bounce record", left)
	}
}

// The rate limit windows name the person too: their own window's key is
// their address, and the desk's window counts notification ids ending in
// it. They expire with the longest window; an erasure removes them now,
// and leaves others' counts alone.
func TestErasePersonLeavesNoRateWindows(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	for _, n := range []Notification{
		{ID: SLAAlertID("SD-1", SLAWarning, "jan@acme.example"), Kind: SLAWarning, To: "jan@acme.example", Ticket: "SD-1"},
		{ID: SLAAlertID("SD-1", SLAWarning, "piet@acme.example"), Kind: SLAWarning, To: "piet@acme.example", Ticket: "SD-1"},
	} {
		enqueue(t, rdb, ob, "", n)
	}
	d := &Delivery{Outbox: ob, Sender: &scripted{}, Consumer: "t",
		Limits: Limits{PerRecipient: []Rate{{Window: time.Hour, Max: 10}}, Desk: []Rate{{Window: time.Hour, Max: 10}}}}
	if st, err := d.Drain(ctx); err != nil || st.Sent != 2 {
		t.Fatalf("drain %+v %v", st, err)
	}
	if n := rdb.ZCard(ctx, ob.kp+"rate:desk").Val(); n != 2 {
		t.Fatalf("desk window counts %d", n)
	}
	if _, err := ob.ErasePerson(ctx, "Jan@acme.example"); err != nil {
		t.Fatal(err)
	}
	if err := ob.EraseDeliveryRecords(ctx, "Jan@acme.example"); err != nil {
		t.Fatal(err)
	}
	for _, k := range rdb.Keys(ctx, ob.kp+"*").Val() {
		if strings.Contains(k, "jan@") {
			t.Errorf("key %s names jan", k)
		}
	}
	if ids := rdb.ZRange(ctx, ob.kp+"rate:desk", 0, -1).Val(); len(ids) != 1 || !strings.HasSuffix(ids[0], "/piet@acme.example") {
		t.Errorf("desk window = %v, want piet's only", ids)
	}
	if rdb.Exists(ctx, ob.kp+"rate:piet@acme.example").Val() != 1 {
		t.Error("piet's window went")
	}
}

// A recipient's suppression and rate window are keyed by the canonical
// address (package address), whichever spelling the mail had, so that the
// erasure and the export, which look them up by that address, find them.
// Lower-casing alone kept "jan@bücher.example." apart from
// jan@xn--bcher-kva.example.
func TestPersonKeysCanonical(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	if err := ob.Suppress(ctx, "Jan <Jan@Bücher.example>", time.Hour, "bounced"); err != nil {
		t.Fatal(err)
	}
	if why, left, err := ob.PersonSuppression(ctx, "jan@xn--bcher-kva.example"); err != nil || why != "bounced" || left <= 0 {
		t.Errorf("suppression found by the canonical address = %q, %s, %v", why, left, err)
	}
	if why, err := ob.suppressed(ctx, "JAN@BÜCHER.EXAMPLE"); err != nil || why != "bounced" {
		t.Errorf("suppression of another spelling = %q, %v", why, err)
	}
	enqueue(t, rdb, ob, "", Notification{ID: SLAAlertID("SD-1", SLAWarning, "Jan@Bücher.example."), Kind: SLAWarning,
		To: "Jan@Bücher.example.", Ticket: "SD-1"})
	d := &Delivery{Outbox: ob, Sender: &scripted{}, Consumer: "t",
		Limits: Limits{PerRecipient: []Rate{{Window: time.Hour, Max: 10}}, Desk: []Rate{{Window: time.Hour, Max: 10}}}}
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ob.ErasePerson(ctx, "jan@bücher.example"); err != nil {
		t.Fatal(err)
	}
	for _, k := range rdb.Keys(ctx, ob.kp+"*").Val() {
		if strings.Contains(k, "suppress:") || strings.HasPrefix(k, ob.kp+"rate:") && k != ob.kp+"rate:desk" {
			t.Errorf("key %s left after the erasure", k)
		}
	}
}

// The records of mail to a person are found however the address was
// written in the notification: a time budget id keeps the recipient's case
// (TimeBudgetID), ids keep an international domain as written while
// erasure looks for its ASCII form, and the rate window of a recipient
// given with their name is theirs too.
func TestErasePersonFindsRecordsOfAnySpelling(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	if _, err := ob.Secret(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []Notification{
		{ID: "SD-1/ack", Kind: Ack, To: "Jan <Jan@Acme.example>", Ticket: "SD-1"},
		{ID: TimeBudgetID("SD-1", BudgetWarning, "Jan@Acme.example"), Kind: TimeBudget, To: "Jan@Acme.example", Ticket: "SD-1"},
		{ID: TicketEventID("SD-2", AgentReply, time.Unix(1, 0), "jan@bücher.example"), Kind: AgentReply, To: "jan@bücher.example", Ticket: "SD-2"},
		{ID: "SD-3/ack", Kind: Ack, To: "jan@bücher.example", Ticket: "SD-3"},
		{ID: TimeBudgetID("SD-4", BudgetWarning, "Piet@Acme.example"), Kind: TimeBudget, To: "Piet@Acme.example", Ticket: "SD-4"},
	} {
		enqueue(t, rdb, ob, "", n)
	}
	d := &Delivery{Outbox: ob, Sender: &scripted{}, Consumer: "t",
		Limits: Limits{PerRecipient: []Rate{{Window: time.Hour, Max: 10}}, Desk: []Rate{{Window: time.Hour, Max: 10}}}}
	if st, err := d.Drain(ctx); err != nil || st.Sent != 5 {
		t.Fatalf("drain %+v %v", st, err)
	}
	naming := func(spellings ...string) []string {
		var out []string
		for _, k := range rdb.Keys(ctx, ob.kp+"*").Val() {
			for _, s := range spellings {
				if strings.Contains(strings.ToLower(k), s) {
					out = append(out, k)
				}
			}
		}
		return out
	}
	for _, who := range []string{"JAN@acme.example", "jan@xn--bcher-kva.example"} {
		if _, err := ob.ErasePerson(ctx, who); err != nil {
			t.Fatal(err)
		}
		if err := ob.EraseDeliveryRecords(ctx, who); err != nil {
			t.Fatal(err)
		}
	}
	if left := naming("jan@acme.example", "jan@bücher.example", "jan@xn--bcher-kva.example"); len(left) > 0 {
		t.Errorf("records naming jan after the erasure: %v", left)
	}
	for _, id := range rdb.ZRange(ctx, ob.kp+"rate:desk", 0, -1).Val() {
		if !strings.HasSuffix(id, "Piet@Acme.example") && !strings.HasSuffix(id, "/ack") {
			t.Errorf("desk window still counts %s", id)
		}
	}
	if len(naming("piet@acme.example")) == 0 {
		t.Error("piet's records went")
	}
}
