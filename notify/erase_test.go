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
	if left := mentions("jan@acme.example"); len(left) > 0 {
		t.Errorf("records naming jan after the erasure: %v", left)
	}
	if left := mentions("piet@acme.example"); len(left) != 2 {
		t.Errorf("piet's records = %v, want his sent marker and bounce record", left)
	}
}
