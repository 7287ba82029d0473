package escalation

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/sla"
	"github.com/maildesk/maildesk/ticket"
)

var ams, _ = time.LoadLocation("Europe/Amsterdam")

func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, ams)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fixture is a desk with an office calendar (Mon-Fri 09-17, Dutch
// holidays), plan "standard" (P1 4h, P3 24h) and a plan without clock,
// on a real Redis.
type fixture struct {
	e   *Escalator
	st  *ticket.Store
	rdb *redis.Client
	ob  *notify.Outbox
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	rs := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	ob := notify.NewOutbox(rdb, "d")
	st := ticket.NewStore(rdb, ticket.Options{DeskID: "d", TicketPrefix: "SD", OutboxKey: ob.Key()})
	p1 := config.Target("4h")
	p3 := config.Target("24h")
	plans, err := sla.FromConfig(&config.Config{
		Calendars: map[string]config.Calendar{"office": {
			Hours: map[string][]string{"mon-fri": {"09:00-17:00"}}, Holidays: "nl", Location: ams}},
		Plans: map[string]config.Plan{
			"standard": {Calendar: "office", Targets: map[string]config.PlanTarget{"P1": {FirstResponse: p1}, "P3": {FirstResponse: p3}}},
			"none":     {},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	customers := map[string]*config.Customer{"acme": {ID: "acme", Name: "Acme BV",
		Managers: []config.Person{{Email: "am@desk.example", Name: "Account Manager"}, {Email: "Boss@desk.example"}}}}
	e := &Escalator{
		Store: st, Plans: plans, Outbox: ob,
		Customer:  func(id string) *config.Customer { return customers[id] },
		WarnShare: 0.75, LateAfter: 5 * time.Minute,
		Agents:   []config.Person{{Email: "agent@desk.example", Name: "Agent"}, {Email: "boss@desk.example"}},
		Managers: []config.Person{{Email: "boss@desk.example", Name: "Boss"}},
		Language: "en", Log: slog.New(slog.DiscardHandler),
	}
	return &fixture{e: e, st: st, rdb: rdb, ob: ob}
}

// create makes a ticket of plan and priority arriving at arrival.
func (f *fixture) create(t testing.TB, id, plan, prio string, arrival time.Time) string {
	t.Helper()
	c, err := f.e.Start(plan, ticket.TypeIncident, prio, "en", arrival)
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.st.Create(context.Background(), id, ticket.New{
		Subject: "Printer " + id, Priority: prio, Customer: "acme", Contact: "jan@acme.example", ContactName: "Jan",
		MessageID: id, CreatedAt: arrival, Clock: c,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.Number
}

// queued returns the outbox's notifications as "kind to late" lines, sorted,
// and empties it.
func (f *fixture) queued(t testing.TB) []string {
	t.Helper()
	ctx := context.Background()
	msgs, err := f.rdb.XRange(ctx, f.ob.Key(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		n, err := notify.FromFields(m.Values)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s %s late=%v", n.Ticket, n.Kind, n.To, n.Late))
		f.rdb.XDel(ctx, f.ob.Key(), m.ID)
	}
	sort.Strings(out)
	return out
}

// alertLines returns what the outbox's notifications alert about, one
// "ticket kind to" line per ticket and recipient, a multi-ticket mail
// (notify.SLAAlerts) expanded into its tickets, sorted; and empties it.
func (f *fixture) alertLines(t testing.TB) (lines []string, mails int) {
	t.Helper()
	ctx := context.Background()
	msgs, err := f.rdb.XRange(ctx, f.ob.Key(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		n, err := notify.FromFields(m.Values)
		if err != nil {
			t.Fatal(err)
		}
		mails++
		if n.Kind != notify.SLAAlerts {
			lines = append(lines, fmt.Sprintf("%s %s %s", n.Ticket, n.Kind, n.To))
		}
		for _, it := range n.Items {
			k := notify.SLAWarning
			if it.Breached {
				k = notify.SLABreach
			}
			lines = append(lines, fmt.Sprintf("%s %s %s", it.Ticket, k, n.To))
		}
		f.rdb.XDel(ctx, f.ob.Key(), m.ID)
	}
	sort.Strings(lines)
	return lines, mails
}

func same(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func TestSweepWarnsThenAlertsOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n := f.create(t, "m1", "standard", "P1", at(t, "2026-11-23 09:00")) // Monday: due 13:00, warn 12:00
	tk, _ := f.st.Get(ctx, n)
	if c := tk.SLA; c == nil || !c.FirstResponseDue.Equal(at(t, "2026-11-23 13:00")) || !c.WarnAt.Equal(at(t, "2026-11-23 12:00")) || c.Target != "4h" {
		t.Fatalf("clock %+v", tk.SLA)
	}
	steps := []struct {
		now  string
		want []string
	}{
		{"2026-11-23 11:59", nil},
		{"2026-11-23 12:00", []string{"SD-1 sla_warning agent@desk.example late=false", "SD-1 sla_warning boss@desk.example late=false"}},
		{"2026-11-23 12:30", nil},
		{"2026-11-23 13:01", []string{"SD-1 sla_breach am@desk.example late=false", "SD-1 sla_breach boss@desk.example late=false"}},
		{"2026-11-23 16:00", nil},
	}
	for _, s := range steps {
		if _, err := f.e.Sweep(ctx, at(t, s.now)); err != nil {
			t.Fatal(err)
		}
		if got := f.queued(t); !same(got, s.want) {
			t.Errorf("sweep at %s queued %q, want %q", s.now, got, s.want)
		}
	}
	tk, _ = f.st.Get(ctx, n)
	if tk.SLA.WarnedAt.IsZero() || tk.SLA.BreachedAt.IsZero() {
		t.Errorf("alerts not recorded on the ticket: %+v", tk.SLA)
	}
}

// After downtime, missed alerts go late rather than never; a warning whose
// deadline has passed too is dropped for the breach alert.
func TestSweepAfterDowntimeSendsLate(t *testing.T) {
	f := newFixture(t)
	f.create(t, "m1", "standard", "P1", at(t, "2026-11-23 09:00"))
	st, err := f.e.Sweep(context.Background(), at(t, "2026-11-23 15:00"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"SD-1 sla_breach am@desk.example late=true", "SD-1 sla_breach boss@desk.example late=true"}
	if got := f.queued(t); !same(got, want) {
		t.Errorf("queued %q, want %q", got, want)
	}
	if st != (Stats{Breaches: 1, Late: 1}) {
		t.Errorf("stats %+v", st)
	}
}

func TestClockPauseResumeReprioritise(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n := f.create(t, "m1", "standard", "P1", at(t, "2026-11-23 09:00"))
	// Waiting for the customer from 10:00 (1h used) to Tuesday 09:00.
	if err := f.e.Pause(ctx, n, at(t, "2026-11-23 10:00")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.Sweep(ctx, at(t, "2026-11-23 14:00")); err != nil {
		t.Fatal(err)
	}
	if got := f.queued(t); len(got) != 0 {
		t.Fatalf("a paused clock alerted: %q", got)
	}
	if err := f.e.Resume(ctx, n, at(t, "2026-11-24 09:00")); err != nil {
		t.Fatal(err)
	}
	tk, _ := f.st.Get(ctx, n)
	if want := at(t, "2026-11-24 12:00"); !tk.SLA.FirstResponseDue.Equal(want) || tk.SLA.Paused != 7*time.Hour {
		t.Fatalf("after resuming: due %v paused %v, want %v and 7h", tk.SLA.FirstResponseDue, tk.SLA.Paused, want)
	}
	// Re-classified to P3 at 10:00 on Tuesday: 2h used of 24h.
	if err := f.e.Reprioritise(ctx, n, "P3", at(t, "2026-11-24 10:00")); err != nil {
		t.Fatal(err)
	}
	tk, _ = f.st.Get(ctx, n)
	// 22h from Tuesday 10:00: Tue 7h, Wed 8h, Thu 7h -> Thursday 16:00.
	if want := at(t, "2026-11-26 16:00"); !tk.SLA.FirstResponseDue.Equal(want) || tk.SLA.Priority != "P3" {
		t.Fatalf("after re-classifying: %+v, want due %v", tk.SLA, want)
	}
	if _, err := f.e.Sweep(ctx, at(t, "2026-11-24 12:30")); err != nil {
		t.Fatal(err)
	}
	if got := f.queued(t); len(got) != 0 {
		t.Fatalf("the old deadline still alerted: %q", got)
	}
	// Answered: no alerts any more.
	if err := f.e.Responded(ctx, n, at(t, "2026-11-24 11:00")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.Sweep(ctx, at(t, "2026-12-01 12:00")); err != nil {
		t.Fatal(err)
	}
	if got := f.queued(t); len(got) != 0 {
		t.Fatalf("an answered ticket alerted: %q", got)
	}
}

func TestNoClockWithoutCalendar(t *testing.T) {
	f := newFixture(t)
	c, err := f.e.Start("none", ticket.TypeIncident, "P1", "en", at(t, "2026-11-23 09:00"))
	if err != nil || c != nil {
		t.Fatalf("Start = %+v, %v; want no clock", c, err)
	}
	if _, err := f.e.Start("gold", ticket.TypeIncident, "P1", "en", at(t, "2026-11-23 09:00")); err == nil {
		t.Fatal("unknown plan accepted")
	}
}

// Three replicas sweep at once: each alert goes exactly once.
func TestConcurrentSweepsSendOnce(t *testing.T) {
	f := newFixture(t)
	for i := range 30 {
		f.create(t, fmt.Sprintf("m%d", i), "standard", "P1", at(t, "2026-11-23 09:00"))
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.e.Sweep(context.Background(), at(t, "2026-11-23 12:10")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	lines, mails := f.alertLines(t)
	seen := map[string]int{}
	for _, l := range lines {
		seen[l]++
	}
	if len(lines) != 60 || len(seen) != 60 {
		t.Fatalf("%d warnings (%d different) queued for 30 tickets and 2 recipients, want 60: %q", len(lines), len(seen), lines)
	}
	if mails != 2 {
		t.Errorf("%d mails, want one per recipient", mails)
	}
}

func TestDigest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if n, err := f.e.Digest(ctx, at(t, "2026-11-23 08:00")); err != nil || n != 0 {
		t.Fatalf("digest without tickets at risk: %d, %v", n, err)
	}
	if got := f.queued(t); len(got) != 0 {
		t.Fatalf("empty digest queued: %q", got)
	}
	f.create(t, "m1", "standard", "P1", at(t, "2026-11-23 09:00")) // breached at 13:00
	f.create(t, "m2", "standard", "P1", at(t, "2026-11-23 11:00")) // warned at 14:00, due 15:00
	f.create(t, "m3", "standard", "P3", at(t, "2026-11-23 11:00")) // fine
	if _, err := f.e.Sweep(ctx, at(t, "2026-11-23 14:30")); err != nil {
		t.Fatal(err)
	}
	f.queued(t)
	if n, err := f.e.Digest(ctx, at(t, "2026-11-23 14:30")); err != nil || n != 2 {
		t.Fatalf("digest listed %d, %v; want 2", n, err)
	}
	msgs, _ := f.rdb.XRange(ctx, f.ob.Key(), "-", "+").Result()
	if len(msgs) != 1 {
		t.Fatalf("%d digests, want one to the one manager", len(msgs))
	}
	d, err := notify.FromFields(msgs[0].Values)
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != notify.Digest || len(d.Items) != 2 || d.Items[0].Ticket != "SD-1" || !d.Items[0].Breached || d.Items[1].Breached {
		t.Fatalf("digest %+v", d)
	}
	if _, err := notify.Render(notify.Desk{ID: "d", Address: "desk@desk.example", Location: ams}, d); err != nil {
		t.Fatalf("digest does not render: %v", err)
	}
}

// A customer moving to another plan moves its open tickets' deadlines; the
// business time used so far counts.
func TestReplan(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n := f.create(t, "m1", "standard", "P3", at(t, "2026-11-23 09:00")) // 24h: due Thursday 09:00
	if err := f.e.Replan(ctx, n, "none", at(t, "2026-11-23 11:00")); err != nil {
		t.Fatal(err)
	}
	tk, _ := f.st.Get(ctx, n)
	if tk.SLA.Plan != "none" || !tk.SLA.FirstResponseDue.IsZero() {
		t.Fatalf("moved to a plan without clock: %+v", tk.SLA)
	}
	if due, _ := f.st.DueNow(ctx, ticket.Breach, at(t, "2027-01-01 00:00"), 10); len(due) != 0 {
		t.Fatalf("a ticket without clock is still scheduled: %v", due)
	}
	n2 := f.create(t, "m2", "none", "P1", at(t, "2026-11-23 09:00"))
	if tk, _ := f.st.Get(ctx, n2); tk.SLA != nil {
		t.Fatalf("a plan without calendar gave a clock: %+v", tk.SLA)
	}
	// Onto a plan with a clock: as if it had been on it from arrival.
	if err := f.e.Replan(ctx, n2, "standard", at(t, "2026-11-23 10:00")); err != nil {
		t.Fatal(err)
	}
	tk, _ = f.st.Get(ctx, n2)
	if tk.SLA == nil || !tk.SLA.FirstResponseDue.Equal(at(t, "2026-11-23 13:00")) {
		t.Fatalf("clock after moving onto a plan with one: %+v", tk.SLA)
	}
	if due, _ := f.st.DueNow(ctx, ticket.Breach, at(t, "2026-11-23 13:00"), 10); len(due) != 1 || due[0].Number != n2 {
		t.Fatalf("breach not scheduled: %v", due)
	}
}

// After downtime many alerts are due at once: each recipient gets one mail
// listing all of theirs, late; a recipient with one alert in the sweep gets
// the single-ticket mail.
func TestSweepSendsOneMailPerRecipient(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := range 70 {
		f.create(t, fmt.Sprintf("m%d", i), "standard", "P1", at(t, "2026-11-23 09:00")) // breached at 13:00
	}
	// Another customer's ticket, warned at 12:00: only the desk's people.
	c, _ := f.e.Start("standard", "", "P1", "en", at(t, "2026-11-23 09:00"))
	c.WarnAt = at(t, "2026-11-23 13:10")
	c.FirstResponseDue = at(t, "2026-11-23 14:00")
	if _, err := f.st.Create(ctx, "w1", ticket.New{Subject: "VPN", Priority: "P1", Customer: "globex", Contact: "x@globex.example",
		MessageID: "w1", CreatedAt: at(t, "2026-11-23 09:00"), Clock: c}, nil); err != nil {
		t.Fatal(err)
	}
	st, err := f.e.Sweep(ctx, at(t, "2026-11-23 13:30"))
	if err != nil {
		t.Fatal(err)
	}
	if st != (Stats{Breaches: 70, Warnings: 1, Late: 71}) {
		t.Errorf("stats %+v", st)
	}
	msgs, _ := f.rdb.XRange(ctx, f.ob.Key(), "-", "+").Result()
	got := map[string]notify.Notification{}
	for _, m := range msgs {
		n, err := notify.FromFields(m.Values)
		if err != nil {
			t.Fatal(err)
		}
		got[strings.ToLower(n.To)] = n
		if _, err := notify.Render(notify.Desk{ID: "d", Address: "desk@desk.example", Location: ams}, n); err != nil {
			t.Errorf("%s to %s does not render: %v", n.Kind, n.To, err)
		}
	}
	if len(msgs) != 3 {
		t.Fatalf("%d mails, want one each to boss, am and agent", len(msgs))
	}
	boss, am, agent := got["boss@desk.example"], got["am@desk.example"], got["agent@desk.example"]
	if boss.Kind != notify.SLAAlerts || len(boss.Items) != 71 || !boss.Late || boss.ToName != "Boss" {
		t.Errorf("boss: %s with %d items, late %v", boss.Kind, len(boss.Items), boss.Late)
	}
	if am.Kind != notify.SLAAlerts || len(am.Items) != 70 {
		t.Errorf("account manager: %s with %d items", am.Kind, len(am.Items))
	}
	if agent.Kind != notify.SLAWarning || agent.Ticket != "SD-71" || agent.ID != "SD-71/sla_warning/agent@desk.example" {
		t.Errorf("agent: %+v, want the single warning", agent)
	}
	breached := 0
	for _, it := range boss.Items {
		if it.Breached {
			breached++
			if it.Target != "4h" || it.ReportedBy != "Jan <jan@acme.example>" || it.Customer != "Acme BV" || it.Deadline.IsZero() {
				t.Errorf("item %+v", it)
			}
		}
	}
	if breached != 70 || !boss.Items[0].Breached || boss.Items[70].Breached {
		t.Errorf("%d of the boss's items breached, want 70 first", breached)
	}
	// Each alert once: a second sweep finds nothing.
	f.alertLines(t)
	if st, err := f.e.Sweep(ctx, at(t, "2026-11-23 13:31")); err != nil || st != (Stats{}) {
		t.Fatalf("second sweep %+v %v", st, err)
	}
	if lines, _ := f.alertLines(t); len(lines) != 0 {
		t.Fatalf("second sweep queued %q", lines)
	}
}

// sink is an SMTP relay that takes everything.
type sink struct {
	mu   sync.Mutex
	sent []notify.Notification
}

func (s *sink) Send(_ context.Context, n notify.Notification) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, n)
	return nil
}

// The issue-16 outage: 70 tickets breach while the desk is down. With the
// default recipient limits (10 per 10 minutes, 30 per hour) every manager
// still gets every alert, and nothing is skipped.
func TestSweepAfterDowntimeDefaultLimitsDeliversEveryAlert(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := range 70 {
		f.create(t, fmt.Sprintf("m%d", i), "standard", "P1", at(t, "2026-11-23 09:00"))
	}
	if _, err := f.e.Sweep(ctx, at(t, "2026-11-23 16:00")); err != nil {
		t.Fatal(err)
	}
	if err := f.ob.Init(ctx); err != nil {
		t.Fatal(err)
	}
	relay := &sink{}
	d := &notify.Delivery{Outbox: f.ob, Sender: relay, Consumer: "t", Log: slog.New(slog.DiscardHandler),
		Limits: notify.Limits{PerRecipient: []notify.Rate{{Window: 10 * time.Minute, Max: 10}, {Window: time.Hour, Max: 30}}}}
	st, err := d.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 0 || st.Dead != 0 {
		t.Errorf("drain %+v: alerts to the desk's managers dropped", st)
	}
	if sk, _ := f.ob.ListSkipped(ctx); len(sk) != 0 {
		t.Errorf("%d alerts skipped, first %+v", len(sk), sk[0])
	}
	told := map[string]map[string]bool{}
	for _, n := range relay.sent {
		to := strings.ToLower(n.To)
		if told[to] == nil {
			told[to] = map[string]bool{}
		}
		if n.Ticket != "" {
			told[to][n.Ticket] = true
		}
		for _, it := range n.Items {
			told[to][it.Ticket] = true
		}
	}
	for _, m := range []string{"boss@desk.example", "am@desk.example"} {
		if len(told[m]) != 70 {
			t.Errorf("%s was told of %d breaches, want 70", m, len(told[m]))
		}
	}
}
