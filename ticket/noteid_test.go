package ticket

import (
	"context"
	"testing"

	"github.com/maildesk/maildesk/config"
)

// The commit script queues the acknowledgement and the notice under the
// ids made in Go (noteid.go), with the note's own fields after them.
func TestCommitQueuesNoteIDs(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		commit func() (Result, error)
		want   func(Result) string
	}{
		{"acknowledgement", func() (Result, error) { return s.Create(ctx, "m1@acme.example", New{Subject: "x"}, note) },
			func(r Result) string { return AckID(r.Number) }},
		{"rejection notice", func() (Result, error) {
			return s.Reject(ctx, "m2@elsewhere.example", Rejection{Sender: "x@elsewhere.example"}, note)
		}, func(Result) string { return RejectionID("m2@elsewhere.example") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.commit()
			if err != nil || !r.Notified {
				t.Fatalf("commit = %+v, %v; want a notification queued", r, err)
			}
			msgs, err := rdb.XRevRangeN(ctx, config.KeyPrefix("acme-it")+"outbox", "+", "-", 1).Result()
			if err != nil || len(msgs) != 1 {
				t.Fatalf("outbox: %v, %v", msgs, err)
			}
			v := msgs[0].Values
			if v["id"] != tt.want(r) || v["kind"] != "ack" || v["to"] != "jan@acme.example" {
				t.Fatalf("queued %v, want id %q and the note's fields", v, tt.want(r))
			}
		})
	}
	if AckID("SD-1") != "SD-1/ack" || RejectionID("k") != "rejection/k" {
		t.Fatalf("ids %q, %q", AckID("SD-1"), RejectionID("k"))
	}
}
