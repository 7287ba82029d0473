package ticket

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// deskOf makes the tickets the index tests look at: three customers, their
// contacts, a participant, a colleague's follow-up, an assignee, and
// statuses from new to closed. All arrive in the same millisecond but the
// last two, which the time index must still tell apart.
func deskOf(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	mk := func(dedupe, customer, contact, subject, prio string, created time.Time, participants ...string) string {
		t.Helper()
		r, err := s.Create(ctx, dedupe, New{Subject: subject, Customer: customer, Contact: contact, Priority: prio,
			Participants: participants, CreatedAt: created, MessageID: dedupe}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r.Number
	}
	mk("a1", "acme", "Jan@Acme.example", "Printer on fire", "P1", at, "piet@acme.example")  // SD-1
	mk("a2", "acme", "piet@acme.example", "VPN down", "P2", at)                             // SD-2
	mk("b1", "bolt", "eva@bolt.example", "Printer jams", "P3", at)                          // SD-3
	mk("b2", "bolt", "eva@bolt.example", "Mail is slow", "P3", at)                          // SD-4
	mk("c1", "cube", "kim@cube.example", "Invoice question", "P4", at)                      // SD-5
	mk("a3", "acme", "jan@acme.example", "Printer toner empty", "P3", at.Add(time.Hour))    // SD-6
	mk("a4", "acme", "jan@acme.example", "New laptop for Kees", "P3", at.Add(48*time.Hour)) // SD-7
	assign := "Alice"
	steps := []struct {
		number string
		c      Change
	}{
		{"SD-1", Change{Status: StatusInProgress, Assignee: &assign}},
		{"SD-3", Change{Status: StatusResolved}},
		{"SD-4", Change{Status: StatusClosed}},
		{"SD-5", Change{Status: StatusClosed, Assignee: &assign}},
	}
	for _, st := range steps {
		st.c.At = at.Add(2 * time.Hour)
		if _, err := s.Apply(ctx, st.number, st.c, nil); err != nil {
			t.Fatal(err)
		}
	}
	// A colleague of Eva's answers on her ticket: it is hers too now.
	if _, err := s.Append(ctx, "b3", "SD-4", Event{At: at.Add(3 * time.Hour), Kind: EventReply, From: "Tom <tom@bolt.example>"}); err != nil {
		t.Fatal(err)
	}
}

func numbers(ts []Ticket) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Number
	}
	return out
}

func TestFindReadsTheIndexes(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	deskOf(t, s)
	yes, no := true, false
	for _, tc := range []struct {
		name string
		q    Query
		want string
	}{
		{"all newest first", Query{}, "SD-7 SD-6 SD-5 SD-4 SD-3 SD-2 SD-1"},
		{"open", Query{Open: &yes}, "SD-7 SD-6 SD-2 SD-1"},
		{"not open", Query{Open: &no}, "SD-5 SD-4 SD-3"},
		{"status", Query{Status: []string{StatusClosed, StatusNew}}, "SD-7 SD-6 SD-5 SD-4 SD-2"},
		{"customer", Query{Customer: []string{"bolt", "cube"}}, "SD-5 SD-4 SD-3"},
		{"contact, participant", Query{Contact: []string{"PIET@acme.example"}}, "SD-2 SD-1"},
		{"contact in any case", Query{Contact: []string{"jan@ACME.example"}}, "SD-7 SD-6 SD-1"},
		{"wrote a follow-up", Query{Contact: []string{"tom@bolt.example"}}, "SD-4"},
		{"assignee", Query{Assignee: []string{"ALICE"}}, "SD-5 SD-1"},
		{"assignee and open", Query{Assignee: []string{"alice"}, Open: &yes}, "SD-1"},
		{"customer and status", Query{Customer: []string{"acme"}, Status: []string{StatusNew}}, "SD-7 SD-6 SD-2"},
		{"priority", Query{Customer: []string{"acme"}, Priority: []string{"P3"}}, "SD-7 SD-6"},
		{"since", Query{Since: time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)}, "SD-7 SD-6"},
		{"since and customer", Query{Since: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), Customer: []string{"acme"}}, "SD-7"},
		{"search", Query{Search: "PRINTER"}, "SD-6 SD-3 SD-1"},
		{"search and open", Query{Search: "printer", Open: &yes}, "SD-6 SD-1"},
		{"search and contact", Query{Search: "printer", Contact: []string{"jan@acme.example"}}, "SD-6 SD-1"},
		{"nobody", Query{Customer: []string{"nobody"}}, ""},
		{"no match with others", Query{Customer: []string{"cube"}, Status: []string{StatusNew}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.Find(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(numbers(p.Tickets), " "); got != tc.want || p.Next != "" {
				t.Errorf("Find(%+v) = %q next %q, want %q", tc.q, got, p.Next, tc.want)
			}
			// Page by page, one or two at a time: the same tickets.
			for _, limit := range []int{1, 2} {
				q := tc.q
				q.Limit = limit
				var got []string
				for i := 0; ; i++ {
					p, err := s.Find(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					if len(p.Tickets) > limit {
						t.Fatalf("page of %d with limit %d", len(p.Tickets), limit)
					}
					got = append(got, numbers(p.Tickets)...)
					if p.Next == "" || i > 10 {
						break
					}
					q.Cursor = p.Next
				}
				if strings.Join(got, " ") != tc.want {
					t.Errorf("paged by %d: %q, want %q", limit, strings.Join(got, " "), tc.want)
				}
			}
		})
	}
	p, err := s.Find(ctx, Query{Contact: []string{"jan@acme.example"}, Limit: 1})
	if err != nil || len(p.Tickets) != 1 {
		t.Fatal(p, err)
	}
	if tk := p.Tickets[0]; tk.Subject != "New laptop for Kees" || tk.Customer != "acme" || tk.Text != "" {
		t.Errorf("listed ticket = %+v", tk)
	}
	if _, err := s.Find(ctx, Query{Cursor: "SD-5"}); err == nil {
		t.Error("a cursor the store did not hand out was taken")
	}
	open, err := s.OpenTickets(ctx)
	if err != nil || strings.Join(numbers(open), " ") != "SD-7 SD-6 SD-2 SD-1" {
		t.Errorf("open tickets = %v, %v", numbers(open), err)
	}
	if r, err := s.CheckIndexes(ctx, false); err != nil || r.Missing != 0 || r.Stale != 0 || r.Tickets != 7 {
		t.Errorf("check after the changes = %+v, %v", r, err)
	}
}

// legacy turns the desk into one made before the indexes: no index keys,
// no people fields.
func legacy(t *testing.T, s *Store, rdb *redis.Client) {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, s.kp+"idx:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 5 {
		t.Fatalf("index keys = %v", keys)
	}
	rdb.Del(ctx, keys...)
	ns, _ := rdb.ZRange(ctx, s.key("tickets"), 0, -1).Result()
	for _, n := range ns {
		rdb.HDel(ctx, s.key("t:"+n), "people")
	}
	s.built.Store(false)
}

// A desk upgraded with tickets in Redis: listing reads every ticket until
// EnsureIndexes has built the indexes, then only the indexes, with the
// same answers; the check finds nothing wrong afterwards.
func TestEnsureIndexesMigratesOldTickets(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	deskOf(t, s)
	yes := true
	queries := []Query{{}, {Open: &yes}, {Contact: []string{"tom@bolt.example"}}, {Contact: []string{"piet@acme.example"}},
		{Assignee: []string{"alice"}}, {Search: "printer"}, {Customer: []string{"acme"}, Limit: 2}}
	var before []string
	for _, q := range queries {
		p, err := s.Find(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, strings.Join(numbers(p.Tickets), " ")+" next="+fmt.Sprint(p.Next != ""))
	}
	legacy(t, s, rdb)
	if ok, err := s.indexed(ctx); ok || err != nil {
		t.Fatalf("indexed = %v, %v on a desk without indexes", ok, err)
	}
	// A ticket made meanwhile is indexed by its commit.
	if _, err := s.Create(ctx, "late", New{Subject: "Late", Customer: "cube", Contact: "kim@cube.example",
		CreatedAt: time.Date(2026, 11, 5, 9, 0, 0, 0, time.UTC)}, nil); err != nil {
		t.Fatal(err)
	}
	scan := func() []string {
		var out []string
		for _, q := range queries {
			p, err := s.Find(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, strings.Join(slices.DeleteFunc(numbers(p.Tickets), func(n string) bool { return n == "SD-8" }), " ")+" next="+fmt.Sprint(p.Next != ""))
		}
		return out
	}
	// The colleague's follow-up is not in the fallback (it reads fields).
	want := slices.Clone(before)
	want[2] = " next=false"
	if got := scan(); !slices.Equal(got, want) {
		t.Errorf("before the build:\n got %q\nwant %q", got, want)
	}
	if r, err := s.CheckIndexes(ctx, false); err != nil || r.Missing == 0 {
		t.Errorf("check before the build = %+v, %v", r, err)
	}
	var progress []int
	if err := s.EnsureIndexes(ctx, func(n int) { progress = append(progress, n) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(progress, []int{8}) {
		t.Errorf("progress = %v", progress)
	}
	if ok, err := s.indexed(ctx); !ok || err != nil {
		t.Fatalf("indexed = %v, %v after the build", ok, err)
	}
	if got := scan(); !slices.Equal(got, before) {
		t.Errorf("after the build:\n got %q\nwant %q", got, before)
	}
	if r, err := s.CheckIndexes(ctx, false); err != nil || r.Missing != 0 || r.Stale != 0 {
		t.Errorf("check after the build = %+v, %v", r, err)
	}
	// Once more changes nothing.
	if err := s.EnsureIndexes(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureIndexesResumes(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	deskOf(t, s)
	legacy(t, s, rdb)
	// A build stopped after SD-3.
	rdb.Set(ctx, s.key(idxBuild), 3, 0)
	if err := s.EnsureIndexes(ctx, nil); err != nil {
		t.Fatal(err)
	}
	r, err := s.CheckIndexes(ctx, false)
	if err != nil || r.Missing == 0 {
		t.Fatalf("check = %+v, %v: the build was to start after SD-3", r, err)
	}
	for _, e := range r.Examples {
		if !strings.HasPrefix(e, "SD-1:") && !strings.HasPrefix(e, "SD-2:") && !strings.HasPrefix(e, "SD-3:") {
			t.Errorf("problem with a ticket the build did: %s", e)
		}
	}
}

func TestCheckIndexesRepairs(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	deskOf(t, s)
	rdb.ZRem(ctx, s.key(idxOpen), "SD-2")
	rdb.ZAdd(ctx, s.key("idx:customer:cube"), redis.Z{Score: 1, Member: "SD-1"})
	rdb.ZAdd(ctx, s.key("idx:status:new"), redis.Z{Score: 2, Member: "SD-99"})
	rdb.HSet(ctx, s.key("t:SD-6"), "status", StatusWaitingCustomer) // changed outside the scripts
	r, err := s.CheckIndexes(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	// SD-2 not open; SD-6 not in waiting_customer; SD-1 in cube; SD-99
	// gone; SD-6 in new.
	if r.Missing != 2 || r.Stale != 3 || r.Repaired {
		t.Fatalf("check = %+v", r)
	}
	if r, err = s.CheckIndexes(ctx, true); err != nil || !r.Repaired {
		t.Fatal(r, err)
	}
	if r, err = s.CheckIndexes(ctx, false); err != nil || r.Missing != 0 || r.Stale != 0 {
		t.Fatalf("after repair = %+v, %v", r, err)
	}
	p, err := s.Find(ctx, Query{Status: []string{StatusWaitingCustomer}})
	if err != nil || strings.Join(numbers(p.Tickets), " ") != "SD-6" {
		t.Errorf("waiting = %v, %v", numbers(p.Tickets), err)
	}
}

// The tickets waiting for an agent are an index `tickets check` covers: a
// ticket rightly in it is not stale (a repair took it out), one missing
// from it is put back, and a number gone is taken out.
func TestCheckIndexesCoversNeedsAgent(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	deskOf(t, s)
	for _, n := range []string{"SD-1", "SD-2"} {
		if _, err := s.Apply(ctx, n, Change{At: time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC), NeedsAgent: true}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waiting := func() string {
		t.Helper()
		w, err := rdb.ZRange(ctx, s.key(needsAgentIndex), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(w, " ")
	}
	if r, err := s.CheckIndexes(ctx, true); err != nil || r.Missing+r.Stale != 0 || waiting() != "SD-1 SD-2" {
		t.Fatalf("check of a sound desk = %+v, %v; waiting %q", r, err, waiting())
	}
	rdb.ZRem(ctx, s.key(needsAgentIndex), "SD-2")
	rdb.ZAdd(ctx, s.key(needsAgentIndex), redis.Z{Score: 1, Member: "SD-99"})
	rdb.ZAdd(ctx, s.key(needsAgentIndex), redis.Z{Score: 2, Member: "SD-3"})
	r, err := s.CheckIndexes(ctx, false)
	if err != nil || r.Missing != 1 || r.Stale != 2 {
		t.Fatalf("check = %+v, %v", r, err)
	}
	if _, err := s.CheckIndexes(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := waiting(); got != "SD-1 SD-2" {
		t.Errorf("waiting after repair = %q", got)
	}
	if since, _ := rdb.ZScore(ctx, s.key(needsAgentIndex), "SD-2").Result(); int64(since) != time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC).UnixMilli() {
		t.Errorf("SD-2 put back waiting since %v", since)
	}
}

// Subject search covers the newest tickets only: its cost is bounded by
// the window, whatever the desk's history.
func TestSearchWindow(t *testing.T) {
	s, rdb := newStore(t)
	s.o.SearchWindow = 3
	ctx := context.Background()
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for i := range 5 {
		if _, err := s.Create(ctx, fmt.Sprint("m", i), New{Subject: fmt.Sprint("Disk full ", i), CreatedAt: at.Add(time.Duration(i) * time.Minute)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := rdb.ZCard(ctx, s.key(idxSubjects)).Result(); n != 3 {
		t.Errorf("window holds %d", n)
	}
	p, err := s.Find(ctx, Query{Search: "disk  FULL"})
	if err != nil || strings.Join(numbers(p.Tickets), " ") != "SD-5 SD-4 SD-3" {
		t.Errorf("search = %v, %v", numbers(p.Tickets), err)
	}
}

// Tickets made in the same millisecond (an import, old tickets migrated)
// each get their own score, in order, without a walk over all of them.
func TestUniqueScoresOfOneTime(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	var cs []Commit
	for i := range 300 {
		cs = append(cs, Commit{Dedupe: fmt.Sprint("m", i), Ticket: &New{Subject: "x", CreatedAt: at}})
	}
	for _, r := range s.CommitBatch(ctx, cs) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	zs, err := rdb.ZRangeWithScores(ctx, s.key(idxCreated), 0, -1).Result()
	if err != nil || len(zs) != 300 {
		t.Fatal(zs, err)
	}
	for i, z := range zs {
		if want := float64(at.UnixMilli() + int64(i)); z.Score != want || z.Member != fmt.Sprint("SD-", i+1) {
			t.Fatalf("entry %d = %v, want SD-%d at %v", i, z, i+1, want)
		}
	}
	p, err := s.Find(ctx, Query{Limit: 7})
	if err != nil || len(p.Tickets) != 7 || p.Tickets[0].Number != "SD-300" {
		t.Fatal(numbers(p.Tickets), err)
	}
}
