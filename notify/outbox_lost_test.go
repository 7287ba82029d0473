package notify

import (
	"context"
	"testing"

	"github.com/maildesk/maildesk/internal/rediserr"
)

// The daemon recreates the outbox group when a drain fails with NOGROUP
// (Redis lost its data): the drain must say so through rediserr, and Init
// must be safe to run again (BUSYGROUP is no error).
func TestDrainAfterRedisLostTheGroup(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	if err := ob.Init(ctx); err != nil {
		t.Fatalf("Init of an outbox that has its group: %v", err)
	}
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	d := &Delivery{Outbox: ob, Sender: &scripted{}, Consumer: "t1"}
	_, err := d.Drain(ctx)
	if !rediserr.Is(err, rediserr.NoGroup) {
		t.Fatalf("drain of a lost outbox: %v, want a NOGROUP reply", err)
	}
	if _, err := ob.List(ctx); err != nil {
		t.Fatalf("list of a lost outbox: %v, want none (NOGROUP is an empty outbox)", err)
	}
	if err := ob.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Drain(ctx); err != nil {
		t.Fatalf("drain after Init again: %v", err)
	}
}
