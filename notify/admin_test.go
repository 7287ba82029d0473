package notify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestAdminListPendingWithAttemptsAndLastError(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "ok@x", Ticket: "SD-1"})
	enqueue(t, rdb, ob, "", Notification{ID: "SD-2/ack", Kind: Ack, To: "flaky@x", Ticket: "SD-2"})
	d := &Delivery{Outbox: ob, Sender: &scripted{reply: map[string][]error{"flaky@x": {errTemp}}}, Consumer: "t1", Retry: time.Hour}
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Sent: 1, Failed: 1}) {
		t.Fatalf("drain %+v %v", st, err)
	}
	enqueue(t, rdb, ob, "", Notification{ID: "SD-3/ack", Kind: Ack, To: "new@x", Ticket: "SD-3"})
	enqueue(t, rdb, ob, "", Notification{Kind: Ack, To: "noid@x"})
	es, err := ob.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 {
		t.Fatalf("listed %+v", es)
	}
	// What the delivery records for a failed send.
	rdb.HSet(ctx, "md:{acme-it}:outbox:errors", es[0].StreamID, errTemp.Error())
	es, _ = ob.List(ctx)
	flaky, fresh, bad := es[0], es[1], es[2]
	if flaky.Notification.ID != "SD-2/ack" || flaky.Attempts != 1 || flaky.Consumer != "t1" || flaky.LastError != errTemp.Error() || flaky.Invalid != "" || flaky.RetryRequested {
		t.Errorf("failed entry %+v", flaky)
	}
	if time.Since(flaky.QueuedAt) > time.Minute || flaky.Idle > time.Minute {
		t.Errorf("failed entry times %v %v", flaky.QueuedAt, flaky.Idle)
	}
	if fresh.Notification.ID != "SD-3/ack" || fresh.Attempts != 0 || fresh.Consumer != "" || fresh.LastError != "" {
		t.Errorf("new entry %+v", fresh)
	}
	if bad.Invalid == "" || bad.Notification.To != "noid@x" {
		t.Errorf("unreadable entry %+v", bad)
	}

	// Before any sender ran there is no consumer group: all is new.
	other := NewOutbox(rdb, "other")
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: other.Key(), Values: Notification{ID: "X-1/ack", Kind: Ack, To: "a@x"}.Fields()})
	if es, err := other.List(ctx); err != nil || len(es) != 1 || es[0].Attempts != 0 {
		t.Fatalf("list without group: %+v %v", es, err)
	}
}

// deadLetter makes SD-3/ack a dead letter (refused permanently) and
// returns its stream id.
func deadLetter(t *testing.T, ob *Outbox, rdb *redis.Client) string {
	t.Helper()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-3/ack", Kind: Ack, To: "gone@x", Ticket: "SD-3", Subject: "printer"})
	d := &Delivery{Outbox: ob, Sender: &scripted{reply: map[string][]error{"gone@x": {errPerm}}}, Consumer: "t1"}
	if st, err := d.Drain(context.Background()); err != nil || st != (Stats{Dead: 1}) {
		t.Fatalf("drain %+v %v", st, err)
	}
	ds, err := ob.ListDead(context.Background())
	if err != nil || len(ds) != 1 || ds[0].Notification.ID != "SD-3/ack" || ds[0].OutboxID == "" || ds[0].Reason == "" {
		t.Fatalf("dead letters %+v %v", ds, err)
	}
	return ds[0].StreamID
}

func TestAdminRetryDeadLetterRequeuesOnce(t *testing.T) {
	for _, how := range []string{"stream id", "qualified stream id", "notification id"} {
		t.Run(how, func(t *testing.T) {
			ob, rdb := newOutbox(t)
			ctx := context.Background()
			id := deadLetter(t, ob, rdb)
			switch how {
			case "qualified stream id":
				id = "dead:" + id
			case "notification id":
				id = "SD-3/ack"
			}
			a, err := ob.Retry(ctx, id, false)
			if err != nil || a.Queue != QueueDead || a.NewID == "" || a.Notification.ID != "SD-3/ack" {
				t.Fatalf("retry: %+v %v", a, err)
			}
			// Twice: the dead letter is gone. A notification id now names
			// the requeued entry, which is made due, not copied; so may a
			// bare stream id, when the requeued entry got the same id in
			// the outbox as the dead letter had (same millisecond).
			a2, err := ob.Retry(ctx, id, false)
			switch {
			case how == "qualified stream id" && !errors.Is(err, ErrUnknownEntry):
				t.Fatalf("second retry: %v", err)
			case how == "notification id" && (err != nil || a2.Queue != QueueOutbox):
				t.Fatalf("second retry: %+v %v", a2, err)
			case how == "stream id" && err != nil && !errors.Is(err, ErrUnknownEntry):
				t.Fatalf("second retry: %v", err)
			}
			msgs, _ := rdb.XRange(ctx, ob.Key(), "-", "+").Result()
			if len(msgs) != 1 || msgs[0].ID != a.NewID {
				t.Fatalf("outbox holds %+v, want one copy", msgs)
			}
			if _, ok := msgs[0].Values["reason"]; ok {
				t.Errorf("requeued entry kept the dead letter's reason: %v", msgs[0].Values)
			}
			if n, err := FromFields(msgs[0].Values); err != nil || n.Subject != "printer" || n.Ticket != "SD-3" {
				t.Errorf("requeued %+v %v", n, err)
			}
			if ds, _ := ob.ListDead(ctx); len(ds) != 0 {
				t.Errorf("dead letter kept: %+v", ds)
			}
			sender := &scripted{}
			if st, err := (&Delivery{Outbox: ob, Sender: sender, Consumer: "t1"}).Drain(ctx); err != nil || st != (Stats{Sent: 1}) {
				t.Fatalf("drain after retry %+v %v", st, err)
			}
		})
	}
}

func TestAdminRetryRefusesDelivered(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-4/ack", Kind: Ack, To: "ok@x", Ticket: "SD-4"})
	if st, err := (&Delivery{Outbox: ob, Sender: &scripted{}, Consumer: "t1"}).Drain(ctx); err != nil || st.Sent != 1 {
		t.Fatalf("drain %+v %v", st, err)
	}
	_, err := ob.Retry(ctx, "SD-4/ack", false)
	if !errors.Is(err, ErrAlreadyDelivered) || !strings.Contains(err.Error(), "SD-4/ack was delivered at ") || !strings.Contains(err.Error(), "not requeued") {
		t.Fatalf("retry of delivered: %v", err)
	}

	// A dead letter of a notification that was delivered after all (a
	// second copy went out) is not requeued either, and stays.
	dead := deadLetter(t, ob, rdb)
	rdb.Set(ctx, "md:{acme-it}:sent:SD-3/ack", "2026-01-02T03:04:05Z", time.Hour)
	if _, err := ob.Retry(ctx, dead, false); !errors.Is(err, ErrAlreadyDelivered) || !strings.Contains(err.Error(), "2026-01-02T03:04:05Z") {
		t.Fatalf("retry of delivered dead letter: %v", err)
	}
	if n, _ := ob.Depth(ctx); n != 0 {
		t.Fatalf("depth %d", n)
	}
	if ds, _ := ob.ListDead(ctx); len(ds) != 1 {
		t.Fatalf("dead letters %+v", ds)
	}
	if rdb.Exists(ctx, "md:{acme-it}:sent:SD-3/ack", "md:{acme-it}:sent:SD-4/ack").Val() != 2 {
		t.Fatal("a delivery record was deleted")
	}
}

// Retry of an entry waiting for its backoff makes it due at once, keeping
// its attempts.
func TestAdminRetryPendingMakesItDue(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-5/ack", Kind: Ack, To: "flaky@x", Ticket: "SD-5"})
	sender := &scripted{reply: map[string][]error{"flaky@x": {errTemp, nil}}}
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t1", Retry: time.Hour}
	if st, _ := d.Drain(ctx); st != (Stats{Failed: 1}) {
		t.Fatalf("first drain %+v", st)
	}
	if st, _ := d.Drain(ctx); st != (Stats{}) {
		t.Fatalf("drain within backoff %+v", st)
	}
	a, err := ob.Retry(ctx, "SD-5/ack", false)
	if err != nil || a.Queue != QueueOutbox || a.NewID != "" || a.Attempts != 1 || a.Consumer != "t1" {
		t.Fatalf("retry %+v %v", a, err)
	}
	if es, _ := ob.List(ctx); len(es) != 1 || es[0].Attempts != 1 || !es[0].RetryRequested {
		t.Fatalf("after retry %+v", es)
	}
	if st, err := d.Drain(ctx); err != nil || st != (Stats{Sent: 1}) {
		t.Fatalf("drain after retry %+v %v", st, err)
	}

	// One no sender has read yet is due already and left alone.
	enqueue(t, rdb, ob, "", Notification{ID: "SD-6/ack", Kind: Ack, To: "ok@x", Ticket: "SD-6"})
	if a, err := ob.Retry(ctx, "SD-6/ack", false); err != nil || a.Attempts != 0 || a.Consumer != "" {
		t.Fatalf("retry of new %+v %v", a, err)
	}
	if n, _ := ob.Depth(ctx); n != 1 {
		t.Fatalf("depth %d", n)
	}
}

func TestAdminRetrySkippedNeedsUnsuppress(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	ob.Suppress(ctx, "Gone@X", time.Hour, "bounced: 550 5.1.1")
	enqueue(t, rdb, ob, "", Notification{ID: "SD-7/ack", Kind: Ack, To: "gone@x", Ticket: "SD-7"})
	d := &Delivery{Outbox: ob, Sender: &scripted{}, Consumer: "t1"}
	if st, _ := d.Drain(ctx); st != (Stats{Skipped: 1}) {
		t.Fatalf("drain %+v", st)
	}
	sk, _ := ob.ListSkipped(ctx)
	if len(sk) != 1 {
		t.Fatalf("skipped %+v", sk)
	}
	if _, err := ob.Retry(ctx, sk[0].StreamID, false); !errors.Is(err, ErrSuppressedTo) || !strings.Contains(err.Error(), "550 5.1.1") {
		t.Fatalf("retry without unsuppress: %v", err)
	}
	a, err := ob.Retry(ctx, sk[0].StreamID, true)
	if err != nil || !a.Unsuppressed || a.Queue != QueueSkipped {
		t.Fatalf("retry with unsuppress %+v %v", a, err)
	}
	if st, _ := d.Drain(ctx); st != (Stats{Sent: 1}) {
		t.Fatalf("drain after unsuppress %+v", st)
	}
}

func TestAdminDrop(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-8/ack", Kind: Ack, To: "flaky@x", Ticket: "SD-8"})
	d := &Delivery{Outbox: ob, Sender: &scripted{reply: map[string][]error{"flaky@x": {errTemp}}}, Consumer: "t1", Retry: time.Hour}
	d.Drain(ctx)
	es, _ := ob.List(ctx)
	rdb.HSet(ctx, "md:{acme-it}:outbox:errors", es[0].StreamID, "421 try later")

	// Not while a sender holds it.
	rdb.Set(ctx, "md:{acme-it}:sending:SD-8/ack", "t2", time.Minute)
	if _, err := ob.Drop(ctx, "SD-8/ack", "customer left"); !errors.Is(err, ErrBeingSent) {
		t.Fatalf("drop while sending: %v", err)
	}
	rdb.Del(ctx, "md:{acme-it}:sending:SD-8/ack")
	if _, err := ob.Drop(ctx, "SD-8/ack", " "); err == nil {
		t.Fatal("drop without reason")
	}

	a, err := ob.Drop(ctx, es[0].StreamID, "customer left")
	if err != nil || a.Queue != QueueOutbox || a.NewID == "" {
		t.Fatalf("drop %+v %v", a, err)
	}
	if n, _ := ob.Depth(ctx); n != 0 {
		t.Fatalf("depth %d after drop", n)
	}
	if p, _ := rdb.XPending(ctx, ob.Key(), "senders").Result(); p.Count != 0 {
		t.Fatalf("still pending: %+v", p)
	}
	if rdb.HExists(ctx, "md:{acme-it}:outbox:errors", es[0].StreamID).Val() {
		t.Error("last error of the dropped entry kept")
	}
	ds, _ := ob.ListDead(ctx)
	if len(ds) != 1 || ds[0].StreamID != a.NewID || ds[0].Reason != "dropped by operator: customer left" ||
		ds[0].OutboxID != es[0].StreamID || ds[0].Notification.ID != "SD-8/ack" {
		t.Fatalf("dead letters %+v", ds)
	}
	// (Qualified: the dead letter may have got the same id in its stream.)
	if _, err := ob.Drop(ctx, "outbox:"+es[0].StreamID, "again"); !errors.Is(err, ErrUnknownEntry) {
		t.Fatalf("second drop: %v", err)
	}

	// A dead letter is deleted.
	a, err = ob.Drop(ctx, "SD-8/ack", "handled by phone")
	if err != nil || a.Queue != QueueDead || a.Reason != "dropped by operator: customer left" {
		t.Fatalf("drop dead letter %+v %v", a, err)
	}
	if ds, _ := ob.ListDead(ctx); len(ds) != 0 {
		t.Fatalf("dead letters %+v", ds)
	}
}

func TestAdminUnknownAndAmbiguousIDs(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	for _, id := range []string{"1-0", "SD-99/ack", "nonsense"} {
		if _, err := ob.Retry(ctx, id, false); !errors.Is(err, ErrUnknownEntry) || !strings.Contains(err.Error(), id) {
			t.Errorf("retry %s: %v", id, err)
		}
		if _, err := ob.Drop(ctx, id, "x"); !errors.Is(err, ErrUnknownEntry) || !strings.Contains(err.Error(), id) {
			t.Errorf("drop %s: %v", id, err)
		}
	}
	deadLetter(t, ob, rdb)
	enqueue(t, rdb, ob, "", Notification{ID: "SD-3/ack", Kind: Ack, To: "gone@x", Ticket: "SD-3"})
	if _, err := ob.Retry(ctx, "SD-3/ack", false); !errors.Is(err, ErrAmbiguousEntry) || !strings.Contains(err.Error(), "dead letter ") {
		t.Fatalf("ambiguous: %v", err)
	}

	// Two streams can number an entry alike; a queue prefix picks one.
	ob = NewOutbox(rdb, "twin")
	enqueue(t, rdb, ob, "5-0", Notification{ID: "SD-10/ack", Kind: Ack, To: "a@x", Ticket: "SD-10"})
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: "md:{twin}:outbox:dead", ID: "5-0",
		Values: append([]string{"reason", "test"}, Notification{ID: "SD-11/ack", Kind: Ack, To: "b@x"}.Fields()...)})
	if _, err := ob.Drop(ctx, "5-0", "x"); !errors.Is(err, ErrAmbiguousEntry) || !strings.Contains(err.Error(), "dead:5-0") {
		t.Fatalf("ambiguous stream id: %v", err)
	}
	if a, err := ob.Drop(ctx, "dead:5-0", "x"); err != nil || a.Notification.ID != "SD-11/ack" {
		t.Fatalf("drop dead:5-0: %+v %v", a, err)
	}
	if a, err := ob.Retry(ctx, "5-0", false); err != nil || a.Notification.ID != "SD-10/ack" {
		t.Fatalf("retry 5-0: %+v %v", a, err)
	}
	if _, err := ob.Retry(ctx, "skipped:5-0", false); !errors.Is(err, ErrUnknownEntry) || !strings.Contains(err.Error(), "skipped:5-0") {
		t.Fatalf("retry skipped:5-0: %v", err)
	}
}
