package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/notify"
	"github.com/redis/go-redis/v9"
)

func TestAPIOutbox(t *testing.T) {
	f := newFixture(t, testTokens)
	ctx := context.Background()
	if res, b := f.do("POST", "/api/v1/tickets/SD-1/reply", `{"message": "Unplug it."}`); res.StatusCode != 200 {
		t.Fatalf("reply %d %s", res.StatusCode, b)
	}
	// A dead letter as the delivery writes it.
	dead := notify.Notification{ID: "SD-2/ack", Kind: notify.Ack, To: "piet@acme.example", Ticket: "SD-2"}
	vals := []any{"reason", "550 5.1.1 no such user", "outbox_id", "1-0"}
	for _, v := range dead.Fields() {
		vals = append(vals, v)
	}
	if err := f.rdb.XAdd(ctx, &redis.XAddArgs{Stream: f.outbox.Key() + ":dead", Values: vals}).Err(); err != nil {
		t.Fatal(err)
	}
	var pending []OutboxEntry
	var deadRef string
	run(t, f, []step{
		{name: "pending", method: "GET", path: "/api/v1/outbox", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				pending = decode[[]OutboxEntry](t, b)
				if len(pending) != 2 || pending[0].Kind != notify.AgentReply || pending[0].Ticket != "SD-1" || pending[0].Attempts != 0 ||
					!strings.HasPrefix(pending[0].Ref, "outbox:") {
					t.Errorf("pending %s", b)
				}
			}},
		{name: "dead", method: "GET", path: "/api/v1/outbox?queue=dead", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				rs := decode[[]OutboxRecord](t, b)
				if len(rs) != 1 || rs[0].ID != "SD-2/ack" || rs[0].Reason != "550 5.1.1 no such user" || rs[0].OutboxID != "1-0" {
					t.Fatalf("dead %s", b)
				}
				deadRef = rs[0].Ref
			}},
		{name: "skipped", method: "GET", path: "/api/v1/outbox?queue=skipped", code: 200, want: []string{"[]"}},
		{name: "bad queue", method: "GET", path: "/api/v1/outbox?queue=sent", code: 400, want: []string{"pending, dead or skipped"}},
	})
	if len(pending) == 0 || deadRef == "" {
		t.FailNow()
	}
	run(t, f, []step{
		{name: "retry dead", method: "POST", path: "/api/v1/outbox/" + deadRef + "/retry", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				a := decode[actionView](t, b)
				if a.Queue != "dead" || a.ID != "SD-2/ack" || a.NewID == "" || f.outboxLen() != 3 {
					t.Errorf("retry %s, outbox %d", b, f.outboxLen())
				}
			}},
		{name: "retry it again", method: "POST", path: "/api/v1/outbox/" + deadRef + "/retry", code: 404},
		{name: "retry by notification id", method: "POST", path: "/api/v1/outbox/SD-2%2Fack/retry", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				if a := decode[actionView](t, b); a.Queue != "pending" || a.NewID != "" || f.outboxLen() != 3 {
					t.Errorf("retry %s", b)
				}
			}},
		{name: "retry bad flag", method: "POST", path: "/api/v1/outbox/SD-2%2Fack/retry?unsuppress=perhaps", code: 400},
		{name: "drop without reason", method: "DELETE", path: "/api/v1/outbox/" + pending[0].Ref, code: 400, want: []string{"reason is required"}},
		{name: "drop pending", method: "DELETE", path: "/api/v1/outbox/pending:" + pending[0].StreamID + "?reason=customer+called", code: 200,
			check: func(t *testing.T, f *fixture, b []byte) {
				a := decode[actionView](t, b)
				if a.Queue != "pending" || a.NewID == "" || f.outboxLen() != 2 {
					t.Errorf("drop %s, outbox %d", b, f.outboxLen())
				}
				ds, err := f.outbox.ListDead(context.Background())
				if err != nil || len(ds) != 1 || ds[0].Reason != "dropped by operator: customer called (alice)" {
					t.Errorf("dead letters %+v %v", ds, err)
				}
			}},
		{name: "drop unknown", method: "DELETE", path: "/api/v1/outbox/SD-77%2Fack?reason=x", code: 404, want: []string{"SD-77/ack"}},
	})
	// Delivered mail is not sent again.
	f.rdb.Set(ctx, "md:{acme-it}:sent:SD-9/ack", "2026-11-23T10:00:00Z", 0)
	if res, b := f.do("POST", "/api/v1/outbox/SD-9%2Fack/retry", ""); res.StatusCode != http.StatusConflict || !strings.Contains(errorOf(t, b), "delivered") {
		t.Errorf("retry delivered: %d %s", res.StatusCode, b)
	}
}
