package notify

import (
	"context"
	"testing"
)

// Issue 16: a ticket re-created under a number Redis lost, from another
// mail, must not send mail under the Message-IDs of the first ticket (the
// MAC used to cover only "SD-675/ack"). The ticket's key tells them apart;
// ids of tickets without a key (made before keys) are what they were, and
// both kinds still verify and are found by a bounce.
func TestMessageIDUniqueToTheTicket(t *testing.T) {
	d := testDesk
	d.Secret = []byte("the desk's secret")
	first, second, old := ackNote(), ackNote(), ackNote()
	first.TicketKey, second.TicketKey = "3fa9c2e1b7d0", "0b1c2d3e4f50"
	idFirst, _ := MessageID(d, first)
	idSecond, _ := MessageID(d, second)
	idOld, _ := MessageID(d, old)
	if idFirst == idSecond || idFirst == idOld {
		t.Fatalf("two tickets SD-1 share a Message-ID: %q %q %q", idFirst, idSecond, idOld)
	}
	// The same shape and length as ever: only the MAC atom tells them apart.
	if want := "ack.sd-1.acme-it.maildesk." + messageIDTag(d.Secret, first.ID, first.TicketKey) + "@desk.example"; idFirst != want {
		t.Errorf("keyed id %q, want %q", idFirst, want)
	}
	// The id of a ticket without a key is the one the desk always made.
	if want := "ack.sd-1.acme-it.maildesk." + messageIDTag(d.Secret, old.ID, "") + "@desk.example"; idOld != want {
		t.Errorf("id without a key %q, want %q", idOld, want)
	}
	for _, c := range []struct {
		id string
		n  Notification
	}{{idFirst, first}, {idSecond, second}, {idOld, old}} {
		if !VerifyMessageID(d, c.id, c.n) {
			t.Errorf("%q does not verify", c.id)
		}
	}
	// Another ticket's key does not make the first's id its own.
	if VerifyMessageID(d, idFirst, second) || VerifyMessageID(d, idFirst, old) || VerifyMessageID(d, idOld, first) {
		t.Error("a ticket's id verifies for another ticket under the same number")
	}
}

// A bounce of a keyed id finds its delivery record.
func TestSentMailWithTicketKey(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	secret, err := ob.Secret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := testDesk
	d.Secret = secret
	ack := Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@acme.example", Ticket: "SD-1", TicketKey: "3fa9c2e1b7d0"}
	enqueue(t, rdb, ob, "", ack)
	if st, err := (&Delivery{Outbox: ob, Sender: &scripted{}, Consumer: "t"}).Drain(ctx); err != nil || st.Sent != 1 {
		t.Fatalf("drain %+v %v", st, err)
	}
	id, _ := MessageID(d, ack)
	s, ok, err := ob.SentMail(ctx, id)
	if err != nil || !ok || s.Ticket != "SD-1" || s.TicketKey != ack.TicketKey {
		t.Fatalf("sent mail of %q: %+v %v %v", id, s, ok, err)
	}
	other := ack
	other.TicketKey = "0b1c2d3e4f50"
	otherID, _ := MessageID(d, other)
	if _, ok, _ := ob.SentMail(ctx, otherID); ok {
		t.Errorf("%q (never sent) found", otherID)
	}
}
