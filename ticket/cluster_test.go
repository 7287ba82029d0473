package ticket

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
)

// On a Redis Cluster every script must keep to the desk's slot: the
// indexes (and retention and erasure, which change them) reach keys they
// compute from the desk's prefix, and the check scans the node holding
// the slot. Redis refuses a script that strays with CROSSSLOT or "non
// local key".
func TestIndexesOnCluster(t *testing.T) {
	c := testserver.RedisCluster(t)
	rdb := c.Client(t)
	ctx := context.Background()
	// Desks whose slots are on different masters.
	for _, desk := range []string{"acme-it", "qiqq", "oxineo"} {
		s := NewStore(rdb, Options{DeskID: desk, TicketPrefix: "SD", OutboxKey: config.KeyPrefix(desk) + "outbox"})
		deskOf(t, s)
		yes := true
		p, err := s.Find(ctx, Query{Open: &yes, Customer: []string{"acme"}, Search: "printer"})
		if err != nil || strings.Join(numbers(p.Tickets), " ") != "SD-6 SD-1" {
			t.Fatalf("desk %s: find = %v, %v", desk, numbers(p.Tickets), err)
		}
		if r, err := s.CheckIndexes(ctx, false); err != nil || r.Tickets != 7 || r.Missing+r.Stale != 0 {
			t.Fatalf("desk %s: check = %+v, %v", desk, r, err)
		}
		// The migration, on the cluster.
		node, err := rdb.MasterForKey(ctx, s.key("seq"))
		if err != nil {
			t.Fatal(err)
		}
		legacy(t, s, node)
		if err := s.EnsureIndexes(ctx, nil); err != nil {
			t.Fatalf("desk %s: build: %v", desk, err)
		}
		if r, err := s.CheckIndexes(ctx, true); err != nil || r.Missing+r.Stale != 0 {
			t.Fatalf("desk %s: check after the build = %+v, %v", desk, r, err)
		}
		// Retention's scripts, on the cluster.
		year := 365 * 24 * time.Hour
		pol := RetentionPolicy{ClosedAfter: year, Keep: 2 * year, Seen: year, Rejections: year, Batch: 10}
		at := time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
		if r, err := s.RunRetention(ctx, pol, &fakeMail{}, at, false); err != nil || len(r.Tickets) != 3 {
			t.Fatalf("desk %s: retention = %+v, %v", desk, r, err)
		}
		if r, err := s.RunRetention(ctx, pol, &fakeMail{}, at.Add(2*year), false); err != nil || len(r.Tickets) != 3 || !r.SeenRotated {
			t.Fatalf("desk %s: retention later = %+v, %v", desk, r, err)
		}
		if r, err := s.CheckIndexes(ctx, false); err != nil || r.Missing+r.Stale != 0 || r.Tickets != 4 {
			t.Fatalf("desk %s: check after retention = %+v, %v", desk, r, err)
		}
	}
}
