package ticket

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The commit refuses to give a number while the sequence is below the
// floor (Redis lost writes): nothing is written, not even a rejection; a
// replay of a mail Redis still knows answers as before.
func TestCommitRefusedBelowFloor(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	nt := New{Subject: "s", Contact: "jan@acme.example", MessageID: "m1@acme.example", CreatedAt: at}
	if r := s.CommitBatch(ctx, []Commit{{Dedupe: "m1@acme.example", Ticket: &nt, Note: note, Floor: 0}}); r[0].Err != nil || r[0].Number != "SD-1" {
		t.Fatalf("first commit %+v", r[0])
	}
	nt2 := nt
	nt2.MessageID = "m2@acme.example"
	rs := s.CommitBatch(ctx, []Commit{
		{Dedupe: "m1@acme.example", Ticket: &nt, Note: note, Floor: 5},
		{Dedupe: "m2@acme.example", Ticket: &nt2, Note: note, Floor: 5},
		{Dedupe: "x@elsewhere.example", Rejection: &Rejection{Sender: "x@elsewhere.example", At: at}, Note: note, Floor: 5},
	})
	if rs[0].Err != nil || rs[0].Number != "SD-1" || rs[0].Created {
		t.Errorf("replay below the floor: %+v", rs[0])
	}
	for _, r := range rs[1:] {
		if !errors.Is(r.Err, ErrBehind) {
			t.Errorf("commit below the floor: %+v, want ErrBehind", r)
		}
	}
	if seq, _ := s.Sequence(ctx); seq != 1 {
		t.Errorf("sequence %d after refused commits, want 1", seq)
	}
	if n := outboxLen(t, rdb); n != 1 {
		t.Errorf("outbox has %d entries, want 1", n)
	}
	if got, _ := s.Lookup(ctx, []string{"m1@acme.example", "m2@acme.example", "x@elsewhere.example"}); got[0].Number != "SD-1" || got[1] != (Recorded{}) || got[2].Rejected {
		t.Errorf("lookup %+v", got)
	}
}

// A ticket re-created under its recorded number keeps that number and its
// arrival time, raises the sequence past it, and never takes a number that
// another mail's ticket holds.
func TestCreateUnderRecordedNumber(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	nt := New{Subject: "s", Contact: "jan@acme.example", MessageID: "m7@acme.example", CreatedAt: at, Number: 7}
	r, err := s.Create(ctx, "m7@acme.example", nt, nil)
	if err != nil || r.Number != "SD-7" || !r.Created {
		t.Fatalf("re-create %+v %v", r, err)
	}
	if seq, _ := s.Sequence(ctx); seq != 7 {
		t.Errorf("sequence %d, want 7", seq)
	}
	tk, err := s.Get(ctx, "SD-7")
	if err != nil || !tk.CreatedAt.Equal(at) || tk.Key != KeyOf("m7@acme.example") {
		t.Errorf("re-created ticket %+v %v", tk, err)
	}
	other := nt
	other.MessageID = "other@acme.example"
	if _, err := s.Create(ctx, "other@acme.example", other, nil); !errors.Is(err, ErrNumberTaken) {
		t.Errorf("second mail under SD-7: %v, want ErrNumberTaken", err)
	}
	// Under a lower number the sequence stays.
	low := nt
	low.Number, low.MessageID = 3, "m3@acme.example"
	if r, err := s.Create(ctx, "m3@acme.example", low, nil); err != nil || r.Number != "SD-3" {
		t.Fatalf("re-create SD-3 %+v %v", r, err)
	}
	if next, _ := s.Create(ctx, "m8@acme.example", New{Subject: "n", CreatedAt: at}, nil); next.Number != "SD-8" {
		t.Errorf("next ticket %s, want SD-8", next.Number)
	}
	if raised, err := s.RaiseSequence(ctx, 5); err != nil || raised {
		t.Errorf("raise to 5 lowered or failed: %v %v", raised, err)
	}
	if raised, err := s.RaiseSequence(ctx, 20); err != nil || !raised {
		t.Errorf("raise to 20: %v %v", raised, err)
	}
	if seq, _ := s.Sequence(ctx); seq != 20 {
		t.Errorf("sequence %d, want 20", seq)
	}
	if n, ok := s.Seq("sd-675"); !ok || n != 675 || s.Number(675) != "SD-675" {
		t.Errorf("Seq(sd-675) = %d %v", n, ok)
	}
	for _, bad := range []string{"SD-", "SD-0", "XY-5", "SD-5x", "SD--5"} {
		if _, ok := s.Seq(bad); ok {
			t.Errorf("Seq(%q) ok", bad)
		}
	}
}

// A restored notice record keeps the sender from a second notice for the
// rest of the interval.
func TestRestoreNotice(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	if err := s.RestoreNotice(ctx, "X@Elsewhere.example", time.Now().Add(-10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	ttl := rdb.TTL(ctx, s.key("notice:x@elsewhere.example")).Val()
	if ttl <= 45*time.Minute || ttl > 50*time.Minute {
		t.Errorf("notice record kept %s, want the 50 minutes left of the hour", ttl)
	}
	r, err := s.Reject(ctx, "y@elsewhere.example", Rejection{Sender: "x@elsewhere.example", At: time.Now()}, note)
	if err != nil || r.Notified {
		t.Errorf("second notice within the interval: %+v %v", r, err)
	}
	if err := s.RestoreNotice(ctx, "old@elsewhere.example", time.Now().Add(-2*time.Hour)); err != nil || rdb.Exists(ctx, s.key("notice:old@elsewhere.example")).Val() != 0 {
		t.Errorf("a notice older than the interval restored: %v", err)
	}
}
