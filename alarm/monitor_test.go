package alarm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/signin"
)

type queue struct {
	mu sync.Mutex
	ns []notify.Notification
}

func (q *queue) Enqueue(_ context.Context, n notify.Notification) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ns = append(q.ns, n)
	return nil
}

func (q *queue) take() []notify.Notification {
	q.mu.Lock()
	defer q.mu.Unlock()
	ns := q.ns
	q.ns = nil
	return ns
}

func newRedis(t *testing.T) redis.UniversalClient {
	t.Helper()
	opt, err := redis.ParseURL(testserver.Redis(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

var errRefused = fmt.Errorf("signing in: %w", &signin.RefusedError{Mechanism: "xoauth2", Status: "401"})

// Two replicas see the same outage: one alarm mail per recipient after
// After, none before, one all-clear when it works again.
func TestOutageAlarmOnceAcrossReplicas(t *testing.T) {
	rdb := newRedis(t)
	q := &queue{}
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	var parts []*Part
	var monitors []*Monitor
	var failures []string
	for range 2 {
		p := NewPart(IMAP, "IMAP imap.example:993 as desk@example.com", func(r string) { failures = append(failures, r) })
		parts = append(parts, p)
		monitors = append(monitors, New(Config{Parts: []*Part{p}, After: 15 * time.Minute,
			To: []string{"ops@example.com", "oncall@example.com"}, Language: "en", Redis: rdb, KeyPrefix: "md:{d}:", Queue: q}))
	}
	check := func(at time.Time) {
		t.Helper()
		for _, m := range monitors {
			if err := m.Check(t.Context(), at); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range parts {
		p.Record(nil, t0)
	}
	check(t0)
	for _, p := range parts {
		p.Record(errRefused, t0.Add(time.Minute))
		p.Record(errRefused, t0.Add(2*time.Minute))
	}
	check(t0.Add(15 * time.Minute))
	if ns := q.take(); len(ns) != 0 {
		t.Fatalf("alarm before alerts.after: %v", ns)
	}
	check(t0.Add(16 * time.Minute))
	check(t0.Add(17 * time.Minute))
	ns := q.take()
	if len(ns) != 2 || ns[0].Kind != notify.AlarmDown || ns[0].To == ns[1].To || ns[0].Part != IMAP || ns[0].Reason == "" ||
		!ns[0].AsOf.Equal(t0.Add(time.Minute)) {
		t.Fatalf("alarm mails: %+v", ns)
	}
	if len(failures) != 4 || failures[0] != "refused" {
		t.Errorf("failures counted: %v", failures)
	}
	if since, _ := Raised(t.Context(), rdb, "md:{d}:", IMAP); !since.Equal(t0.Add(time.Minute)) {
		t.Errorf("Raised = %v", since)
	}
	parts[1].Record(nil, t0.Add(20*time.Minute))
	check(t0.Add(20 * time.Minute))
	parts[0].Record(nil, t0.Add(21*time.Minute))
	check(t0.Add(21 * time.Minute))
	ns = q.take()
	if len(ns) != 2 || ns[0].Kind != notify.AlarmUp {
		t.Fatalf("all-clear mails: %+v", ns)
	}
	if last, _ := LastOK(t.Context(), rdb, "md:{d}:", IMAP); last.IsZero() {
		t.Error("last sign-in not recorded")
	}
}

// An SMTP outage is logged, not mailed: the mail would wait behind the
// relay it is about.
func TestSMTPOutageNotMailed(t *testing.T) {
	rdb := newRedis(t)
	q := &queue{}
	p := NewPart(SMTP, "SMTP relay:587", nil)
	m := New(Config{Parts: []*Part{p}, After: time.Minute, To: []string{"ops@example.com"}, Redis: rdb, KeyPrefix: "md:{d}:", Queue: q})
	t0 := time.Now()
	p.Record(errors.New("dial tcp: connection refused"), t0)
	if err := m.Check(t.Context(), t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if since, _ := Raised(t.Context(), rdb, "md:{d}:", SMTP); since.IsZero() {
		t.Error("SMTP alarm not raised")
	}
	p.Record(nil, t0.Add(3*time.Minute))
	if err := m.Check(t.Context(), t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ns := q.take(); len(ns) != 0 {
		t.Errorf("SMTP alarm mailed: %+v", ns)
	}
}

// A replica that gave up the mailbox's lease forgets its failures: the
// alarm the new holder cleared is not raised again.
func TestResetAfterLeaseLost(t *testing.T) {
	rdb := newRedis(t)
	q := &queue{}
	old, holder := NewPart(IMAP, "x", nil), NewPart(IMAP, "x", nil)
	mk := func(p *Part) *Monitor {
		return New(Config{Parts: []*Part{p}, After: time.Minute, To: []string{"ops@example.com"}, Redis: rdb, KeyPrefix: "p:", Queue: q})
	}
	mOld, mHolder := mk(old), mk(holder)
	t0 := time.Now()
	old.Record(errRefused, t0)
	if err := mOld.Check(t.Context(), t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	old.Reset() // the lease went to the other replica
	holder.Record(nil, t0.Add(3*time.Minute))
	for _, m := range []*Monitor{mHolder, mOld, mHolder, mOld} {
		if err := m.Check(t.Context(), t0.Add(4*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	ns := q.take()
	if len(ns) != 2 || ns[0].Kind != notify.AlarmDown || ns[1].Kind != notify.AlarmUp {
		t.Errorf("mails %+v, want one alarm and one all-clear", ns)
	}
}

// Replicas share the relay but each knows only its own attempts: one whose
// last attempt is older than another's success neither raises the alarm
// again nor keeps it from clearing.
func TestStaleReplicaDoesNotFlap(t *testing.T) {
	rdb := newRedis(t)
	q := &queue{}
	a, b := NewPart(IMAP, "x", nil), NewPart(IMAP, "x", nil)
	mk := func(p *Part) *Monitor {
		return New(Config{Parts: []*Part{p}, After: time.Minute, To: []string{"ops@example.com"}, Redis: rdb, KeyPrefix: "p:", Queue: q})
	}
	ma, mb := mk(a), mk(b)
	t0 := time.Now()
	a.Record(nil, t0.Add(-time.Hour))
	b.Record(nil, t0.Add(-time.Hour))
	a.Record(errRefused, t0)
	b.Record(errRefused, t0)
	check := func(m *Monitor, at time.Time) {
		t.Helper()
		if err := m.Check(t.Context(), at); err != nil {
			t.Fatal(err)
		}
	}
	check(ma, t0.Add(2*time.Minute))
	check(mb, t0.Add(2*time.Minute))
	a.Record(nil, t0.Add(3*time.Minute)) // a reaches it again; b has not tried since
	for i := range 5 {
		at := t0.Add(time.Duration(4+i) * time.Minute)
		check(ma, at)
		check(mb, at)
	}
	ns := q.take()
	if len(ns) != 2 || ns[0].Kind != notify.AlarmDown || ns[1].Kind != notify.AlarmUp {
		t.Errorf("mails %+v, want one alarm and one all-clear", ns)
	}
	if since, _ := Raised(t.Context(), rdb, "p:", IMAP); !since.IsZero() {
		t.Errorf("alarm raised again by the stale replica (since %v)", since)
	}
}

// A standby replica, which makes no attempts, neither raises nor clears.
func TestUnknownPartIgnored(t *testing.T) {
	rdb := newRedis(t)
	q := &queue{}
	m := New(Config{Parts: []*Part{NewPart(IMAP, "x", nil)}, After: time.Minute, To: []string{"ops@example.com"}, Redis: rdb, KeyPrefix: "p:", Queue: q})
	if err := rdb.Set(t.Context(), "p:alarm:imap", "2026-12-07T09:00:00Z", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := m.Check(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if ns := q.take(); len(ns) != 0 {
		t.Errorf("mails from a standby: %+v", ns)
	}
}

// Credential expiry: one warning per threshold (30, 7, 1 days), the
// nearest one only when several apply, each once across replicas.
func TestCredentialExpiryWarnings(t *testing.T) {
	rdb := newRedis(t)
	q := &queue{}
	expiry := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	var ms []*Monitor
	for range 2 {
		ms = append(ms, New(Config{After: time.Minute, To: []string{"ops@example.com"}, Expiry: expiry,
			Credential: notify.CredentialSecret, Redis: rdb, KeyPrefix: "p:", Queue: q}))
	}
	tests := []struct {
		daysLeft float64
		want     int
	}{{45, 0}, {29, 1}, {28, 0}, {6.5, 1}, {5, 0}, {0.5, 1}, {-2, 0}}
	for _, tt := range tests {
		at := expiry.Add(-time.Duration(tt.daysLeft * 24 * float64(time.Hour)))
		for _, m := range ms {
			if err := m.Check(t.Context(), at); err != nil {
				t.Fatal(err)
			}
		}
		ns := q.take()
		if len(ns) != tt.want {
			t.Errorf("%.1f days left: %d warnings, want %d", tt.daysLeft, len(ns), tt.want)
		}
		for _, n := range ns {
			if n.Kind != notify.CredentialExpiry || !n.Deadline.Equal(expiry) || n.Reason != notify.CredentialSecret {
				t.Errorf("warning %+v", n)
			}
		}
	}
}
