package ticket

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// fakeMail records what retention asked the mailbox to delete.
type fakeMail struct {
	ids                         []string
	rejected, quarantined, sent []time.Time
	fail                        error
}

func (f *fakeMail) PurgeMessageIDs(_ context.Context, ids []string) (int, error) {
	if f.fail != nil {
		return 0, f.fail
	}
	f.ids = append(f.ids, ids...)
	return len(ids), nil
}

func (f *fakeMail) PurgeRejectedBefore(_ context.Context, t time.Time, dry bool) (int, error) {
	if !dry {
		f.rejected = append(f.rejected, t)
	}
	return 0, nil
}

func (f *fakeMail) PurgeQuarantinedBefore(_ context.Context, t time.Time, dry bool) (int, error) {
	if !dry {
		f.quarantined = append(f.quarantined, t)
	}
	return 1, nil
}

func (f *fakeMail) PurgeSentBefore(_ context.Context, t time.Time, dry bool) (int, error) {
	if !dry {
		f.sent = append(f.sent, t)
	}
	return 2, nil
}

var retNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// retentionDesk: SD-1 closed 3 years ago with a follow-up, SD-2 resolved
// 3 years ago and reopened since, SD-3 closed a year ago, SD-4 open for
// years, SD-5 closed 8 years ago, SD-6 closed 3 years ago by another
// contact of the same customer.
func retentionDesk(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	years := func(n float64) time.Time { return retNow.Add(-time.Duration(n * 365 * 24 * float64(time.Hour))) }
	for i, tc := range []struct {
		contact string
		created time.Time
	}{
		{"jan@acme.example", years(3.2)}, {"jan@acme.example", years(3.2)}, {"jan@acme.example", years(1.1)},
		{"jan@acme.example", years(5)}, {"jan@acme.example", years(8.5)}, {"piet@acme.example", years(3.3)},
	} {
		n := string(rune('1' + i))
		clk := &Clock{Plan: "standard", Priority: "P2", Target: "4h", Start: tc.created, FirstResponseDue: tc.created.Add(4 * time.Hour),
			WarnAt: tc.created.Add(3 * time.Hour), Language: "nl", Arrival: tc.created}
		if _, err := s.Create(ctx, "m"+n+"@acme.example", New{Subject: "Printer " + n, Customer: "acme", Contact: tc.contact,
			ContactName: "Jan Jansen", Participants: []string{"kees@acme.example"}, Priority: "P2", MessageID: "m" + n + "@acme.example",
			Text: "My phone is 06-12345678", Quoted: "> older", CreatedAt: tc.created, Clock: clk,
			Source: Source{Mailbox: "INBOX", UIDValidity: 1, UID: uint32(i + 1)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, "r1@acme.example", "SD-1", Event{At: years(3.15), Kind: EventReply, From: "jan@acme.example",
		MessageID: "r1@acme.example", Text: "It still burns"}); err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct {
		n      string
		status string
		at     time.Time
	}{
		{"SD-1", StatusClosed, years(3)}, {"SD-2", StatusResolved, years(3)}, {"SD-2", StatusInProgress, years(0.1)},
		{"SD-3", StatusClosed, years(1)}, {"SD-5", StatusClosed, years(8)}, {"SD-6", StatusClosed, years(3)},
	} {
		assign := "Alice"
		if _, err := s.Apply(ctx, st.n, Change{At: st.at, Status: st.status, Assignee: &assign}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRetention(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	retentionDesk(t, s)
	p := RetentionPolicy{ClosedAfter: 2 * 365 * 24 * time.Hour, Keep: 7 * 365 * 24 * time.Hour, Batch: 100}

	// The dry run lists what would go and changes nothing.
	mail := &fakeMail{}
	dry, err := s.RunRetention(ctx, p, mail, retNow, true)
	if err != nil {
		t.Fatal(err)
	}
	retired := func(r RetentionReport) string {
		var out []string
		for _, x := range r.Tickets {
			out = append(out, x.Number+" "+x.Action)
		}
		return strings.Join(out, ", ")
	}
	if got := retired(dry); got != "SD-5 delete, SD-1 anonymise, SD-6 anonymise" || !dry.DryRun {
		t.Fatalf("dry run = %q", got)
	}
	if tk, err := s.Get(ctx, "SD-1"); err != nil || tk.Subject != "Printer 1" || tk.AnonymisedAt != nil {
		t.Fatalf("dry run changed SD-1: %+v, %v", tk, err)
	}
	if _, err := s.Get(ctx, "SD-5"); err != nil {
		t.Fatalf("dry run deleted SD-5: %v", err)
	}
	if len(mail.ids) != 0 {
		t.Fatalf("dry run deleted mails %v", mail.ids)
	}

	r, err := s.RunRetention(ctx, p, mail, retNow, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := retired(r); got != "SD-5 delete, SD-1 anonymise, SD-6 anonymise" || r.More {
		t.Fatalf("run = %q (more %v)", got, r.More)
	}
	// The anonymous record: no personal data, the numbers for reports.
	tk, err := s.Get(ctx, "SD-1")
	if err != nil {
		t.Fatal(err)
	}
	if tk.AnonymisedAt == nil || tk.Subject != "" || tk.Text != "" || tk.Quoted != "" || tk.Contact != "" || tk.ContactName != "" ||
		len(tk.Participants) != 0 || tk.MessageID != "" || tk.Assignee != "" || tk.Source != (Source{}) || tk.Language != "" {
		t.Errorf("anonymised ticket holds personal data: %+v", tk)
	}
	if tk.Customer != "acme" || tk.Priority != "P2" || tk.Status != StatusClosed || tk.CreatedAt.IsZero() || tk.UpdatedAt == nil ||
		tk.SLA == nil || tk.SLA.Plan != "standard" || tk.SLA.Target != "4h" || tk.SLA.FirstResponseDue.IsZero() || tk.SLA.Language != "" {
		t.Errorf("anonymous record lost what reports need: %+v sla %+v", tk, tk.SLA)
	}
	if es, err := s.Events(ctx, "SD-1"); err != nil || len(es) != 0 {
		t.Errorf("events = %v, %v", es, err)
	}
	raw, _ := rdb.HGetAll(ctx, s.key("t:SD-1")).Result()
	for k, v := range raw {
		if strings.Contains(v, "acme.example") || strings.Contains(v, "Jan") || strings.Contains(v, "06-1234") {
			t.Errorf("field %s still holds %q", k, v)
		}
	}
	if _, err := s.Get(ctx, "SD-5"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SD-5 after keep: %v", err)
	}
	// Its mails (the original and the follow-up, and SD-5's and SD-6's)
	// went from the mailbox.
	slices.Sort(mail.ids)
	if want := []string{"m1@acme.example", "m5@acme.example", "m6@acme.example", "r1@acme.example"}; !slices.Equal(mail.ids, want) {
		t.Errorf("mails deleted = %v, want %v", mail.ids, want)
	}
	if r.Mails != 4 || r.MailsQueued != 0 {
		t.Errorf("report mails %d queued %d", r.Mails, r.MailsQueued)
	}
	// The indexes follow: the person's tickets are the kept ones only.
	yes, no := true, false
	for _, tc := range []struct {
		q    Query
		want string
	}{
		{Query{Contact: []string{"jan@acme.example"}}, "SD-3 SD-2 SD-4"},
		{Query{Contact: []string{"kees@acme.example"}}, "SD-3 SD-2 SD-4"},
		{Query{Contact: []string{"piet@acme.example"}}, ""},
		{Query{Assignee: []string{"alice"}}, "SD-3 SD-2"},
		{Query{Customer: []string{"acme"}}, "SD-3 SD-2 SD-1 SD-6 SD-4"},
		{Query{Open: &no}, "SD-3 SD-1 SD-6"},
		{Query{Open: &yes}, "SD-2 SD-4"},
		{Query{Search: "printer"}, "SD-3 SD-2 SD-4"},
	} {
		p, err := s.Find(ctx, tc.q)
		if err != nil || strings.Join(numbers(p.Tickets), " ") != tc.want {
			t.Errorf("Find(%+v) = %v, %v; want %q", tc.q, numbers(p.Tickets), err, tc.want)
		}
	}
	if c, err := s.CheckIndexes(ctx, false); err != nil || c.Missing+c.Stale != 0 {
		t.Errorf("check after retention = %+v, %v", c, err)
	}
	// Nothing is due twice.
	if again, err := s.RunRetention(ctx, p, mail, retNow, false); err != nil || len(again.Tickets) != 0 {
		t.Errorf("second run = %+v, %v", again, err)
	}
	// Years later the anonymous records go too, SD-3 after its own two
	// years; numbers are never given out again.
	later, err := s.RunRetention(ctx, p, mail, retNow.Add(5*365*24*time.Hour), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := retired(later); got != "SD-1 delete, SD-6 delete, SD-3 anonymise" {
		t.Errorf("later run = %q", got)
	}
	if res, err := s.Create(ctx, "m7@acme.example", New{Subject: "New", Customer: "acme"}, nil); err != nil || res.Number != "SD-7" {
		t.Errorf("next ticket = %+v, %v", res, err)
	}
	if c, err := s.CheckIndexes(ctx, false); err != nil || c.Missing+c.Stale != 0 || c.Tickets != 4 {
		t.Errorf("check after deletion = %+v, %v", c, err)
	}
}

// A run does at most Batch tickets; the next goes on. A reply that reopens
// a ticket after it was listed keeps it.
func TestRetentionBatchesAndResumes(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	retentionDesk(t, s)
	p := RetentionPolicy{ClosedAfter: 2 * 365 * 24 * time.Hour, Batch: 1}
	r, err := s.RunRetention(ctx, p, nil, retNow, false)
	if err != nil || len(r.Tickets) != 1 || r.Tickets[0].Number != "SD-5" || !r.More || r.MailsQueued != 1 {
		t.Fatalf("first run = %+v, %v", r, err)
	}
	// Not due any more: changed after it was listed.
	if _, err := s.Append(ctx, "late@acme.example", "SD-1", Event{At: retNow, Kind: EventAutoReply, From: "jan@acme.example"}); err != nil {
		t.Fatal(err)
	}
	r, err = s.RunRetention(ctx, p, nil, retNow, false)
	if err != nil || len(r.Tickets) != 1 || r.Tickets[0].Number != "SD-6" || r.More {
		t.Fatalf("second run = %+v, %v", r, err)
	}
	if r, err = s.RunRetention(ctx, p, nil, retNow, false); err != nil || len(r.Tickets) != 0 || r.More {
		t.Fatalf("third run = %+v, %v", r, err)
	}
	// The mails wait until the mailbox answers.
	down := &fakeMail{fail: errors.New("imap down")}
	if r, err = s.RunRetention(ctx, p, down, retNow, false); err == nil || r.MailsQueued != 2 {
		t.Fatalf("run with the mailbox down = %+v, %v", r, err)
	}
	up := &fakeMail{}
	if r, err = s.RunRetention(ctx, p, up, retNow, false); err != nil || r.MailsQueued != 0 || !slices.Equal(up.ids, []string{"m5@acme.example", "m6@acme.example"}) {
		t.Fatalf("run with the mailbox back = %+v, %v, deleted %v", r, err, up.ids)
	}
}

// Message-IDs age out on their own clock: remembered for at least one
// period, then forgotten; a replay within it stays a no-op.
func TestSeenAgesOut(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	year := 365 * 24 * time.Hour
	p := RetentionPolicy{Seen: year}
	t0 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.Create(ctx, "old@x", New{Subject: "a", MessageID: "old@x"}, nil); err != nil {
		t.Fatal(err)
	}
	run := func(at time.Time) RetentionReport {
		t.Helper()
		r, err := s.RunRetention(ctx, p, nil, at, false)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := run(t0); r.SeenRotated {
		t.Fatal("rotated on the first run")
	}
	if r := run(t0.Add(year / 2)); r.SeenRotated {
		t.Fatal("rotated within the period")
	}
	if r := run(t0.Add(year)); !r.SeenRotated {
		t.Fatal("not rotated after the period")
	}
	if n, err := s.FindByMessageID(ctx, "old@x"); err != nil || n != "SD-1" {
		t.Fatalf("in the previous generation: %q, %v", n, err)
	}
	if res, err := s.Create(ctx, "old@x", New{Subject: "a"}, nil); err != nil || res.Created {
		t.Fatalf("replay after one rotation made a ticket: %+v, %v", res, err)
	}
	if _, err := s.Append(ctx, "old@x", "SD-1", Event{At: t0, Kind: EventReply}); err != nil {
		t.Fatal(err)
	}
	if es, _ := s.Events(ctx, "SD-1"); len(es) != 0 {
		t.Fatalf("replayed follow-up appended: %v", es)
	}
	if r := run(t0.Add(2 * year)); !r.SeenRotated {
		t.Fatal("not rotated after the second period")
	}
	if n, err := s.FindByMessageID(ctx, "old@x"); err != nil || n != "" {
		t.Fatalf("forgotten after two periods: %q, %v", n, err)
	}
	if n, _ := rdb.Exists(ctx, s.key("seen")).Result(); n != 0 {
		t.Errorf("seen holds entries nobody wrote since")
	}
}

// Rejection records expire on their clock even when no new refusal comes
// in to trim them, and the refused mails go from the rejected folder.
func TestRetentionTrimsRejections(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	for _, id := range []string{"a@x", "b@x"} {
		if _, err := s.Reject(ctx, id, Rejection{Sender: "s@x", Reason: "unknown sender", At: time.Now()}, nil); err != nil {
			t.Fatal(err)
		}
	}
	mail := &fakeMail{}
	p := RetentionPolicy{Rejections: 90 * 24 * time.Hour}
	r, err := s.RunRetention(ctx, p, mail, time.Now(), false)
	if err != nil || r.Rejections != 0 || len(mail.rejected) != 1 {
		t.Fatalf("run now = %+v, %v, %v", r, err, mail.rejected)
	}
	later := time.Now().Add(91 * 24 * time.Hour)
	if r, err = s.RunRetention(ctx, p, mail, later, true); err != nil || r.Rejections != 2 {
		t.Fatalf("dry run later = %+v, %v", r, err)
	}
	if r, err = s.RunRetention(ctx, p, mail, later, false); err != nil || r.Rejections != 2 {
		t.Fatalf("run later = %+v, %v", r, err)
	}
	if n, _ := rdb.XLen(ctx, s.key("rejections")).Result(); n != 0 {
		t.Errorf("%d rejection records left", n)
	}
	if !mail.rejected[1].Equal(later.Add(-90 * 24 * time.Hour)) {
		t.Errorf("refused mails deleted before %v", mail.rejected)
	}
	_ = redis.Nil
}

// A closed ticket's text is packed into one field by the retention run
// (whatever the retention periods) and reads back the same.
func TestCompactClosed(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	text := strings.Repeat("De printer op de tweede verdieping doet het niet. ", 8)
	quoted := strings.Repeat("> Op maandag schreef de servicedesk: we kijken ernaar.\n", 20)
	for _, d := range []string{"a@x", "b@x", "c@x"} {
		if _, err := s.Create(ctx, d, New{Subject: "Printer", Customer: "acme", Contact: "jan@acme.example", Text: text, Quoted: quoted, CreatedAt: at}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for n, st := range map[string]string{"SD-1": StatusClosed, "SD-2": StatusResolved} {
		if _, err := s.Apply(ctx, n, Change{At: at, Status: st}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Apply(ctx, "SD-3", Change{At: at.Add(90 * time.Minute), Status: StatusClosed}, nil); err != nil {
		t.Fatal(err)
	}
	r, err := s.RunRetention(ctx, RetentionPolicy{Batch: 10}, nil, at.Add(2*time.Hour), false)
	if err != nil || r.Compacted != 1 || len(r.Tickets) != 0 {
		t.Fatalf("run = %+v, %v", r, err)
	}
	f, _ := rdb.HGetAll(ctx, s.key("t:SD-1")).Result()
	if f["text"] != "" || f["quoted"] != "" || f["z"] == "" || len(f["z"]) > (len(text)+len(quoted))/4 {
		t.Errorf("SD-1 not packed: text %d quoted %d z %d", len(f["text"]), len(f["quoted"]), len(f["z"]))
	}
	if tk, err := s.Get(ctx, "SD-1"); err != nil || tk.Text != text || tk.Quoted != quoted {
		t.Errorf("SD-1 reads back %q / %q, %v", tk.Text, tk.Quoted, err)
	}
	// Resolved (it may reopen) and closed within the hour stay as they are.
	for _, n := range []string{"SD-2", "SD-3"} {
		if z, _ := rdb.HExists(ctx, s.key("t:"+n), "z").Result(); z {
			t.Errorf("%s packed", n)
		}
	}
	if r, err = s.RunRetention(ctx, RetentionPolicy{Batch: 10}, nil, at.Add(3*time.Hour), false); err != nil || r.Compacted != 1 {
		t.Fatalf("second run = %+v, %v", r, err)
	}
	// Erasure takes the packed text too.
	if _, err := s.ErasePerson(ctx, "jan@acme.example"); err != nil {
		t.Fatal(err)
	}
	if tk, _ := s.Get(ctx, "SD-1"); tk.Text != "" || tk.Quoted != "" {
		t.Errorf("erased SD-1 still has its text")
	}
}

func TestPackText(t *testing.T) {
	for _, tc := range [][2]string{{"", ""}, {"a", ""}, {"", "b"}, {"héllo\x00", "> wörld"}, {strings.Repeat("x", 100_000), "y"}} {
		z, err := packText(tc[0], tc[1])
		if err != nil {
			t.Fatal(err)
		}
		text, quoted, err := unpackText(z)
		if err != nil || text != tc[0] || quoted != tc[1] {
			t.Errorf("round trip of %q/%q = %q/%q, %v", tc[0][:min(len(tc[0]), 10)], tc[1], text[:min(len(text), 10)], quoted, err)
		}
	}
	if _, _, err := unpackText("not deflate"); err == nil {
		t.Error("garbage unpacked")
	}
}

// A ticket retention deletes takes its time records with it (its own and
// its entries in the customer's index that statements read); one that is
// anonymised, or reopened, keeps them. Tickets retention anonymises or
// deletes leave the tickets waiting for an agent (idx:needs_agent).
func TestRetentionDeletesTimeRecordsAndWaiting(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	retentionDesk(t, s)
	years := func(n float64) time.Time { return retNow.Add(-time.Duration(n * 365 * 24 * float64(time.Hour))) }
	for i, n := range []string{"SD-1", "SD-2", "SD-5"} {
		r := TimeRecord{Ticket: n, Customer: "acme", Agent: "alice", Start: years(8.4), Minutes: 30 + i, Activity: "remote",
			Billable: true, RecordedAt: years(8.4), Via: "cli"}
		if _, _, err := s.AddTime(ctx, r, "", "", Event{At: years(8.4), Kind: EventTime}, BudgetNotes{}); err != nil {
			t.Fatal(err)
		}
	}
	// A customer's reply on SD-1 and SD-5 after they were closed, which
	// nobody looked at.
	for _, c := range []struct {
		n  string
		at time.Time
	}{{"SD-1", years(3)}, {"SD-5", years(8)}} {
		if _, err := s.Apply(ctx, c.n, Change{At: c.at, NeedsAgent: true}, nil); err != nil {
			t.Fatal(err)
		}
	}
	members := func() string {
		t.Helper()
		m, err := rdb.ZRange(ctx, s.key("time:c:acme"), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i := range m {
			m[i], _, _ = strings.Cut(m[i], " ")
		}
		slices.Sort(m)
		return strings.Join(m, " ")
	}
	if got := members(); got != "SD-1 SD-2 SD-5" {
		t.Fatalf("time index before = %q", got)
	}
	p := RetentionPolicy{ClosedAfter: 2 * 365 * 24 * time.Hour, Keep: 7 * 365 * 24 * time.Hour, Batch: 100}
	if _, err := s.RunRetention(ctx, p, &fakeMail{}, retNow, false); err != nil {
		t.Fatal(err)
	}
	if got := members(); got != "SD-1 SD-2" {
		t.Errorf("time index after SD-5 was deleted = %q", got)
	}
	if n, _ := rdb.Exists(ctx, s.key("t:SD-5:time"), s.key("t:SD-5:timesum")).Result(); n != 0 {
		t.Errorf("%d time keys of the deleted SD-5 left", n)
	}
	if rs, err := s.TimeRecords(ctx, "SD-2"); err != nil || len(rs) != 1 {
		t.Errorf("time records of the reopened SD-2 = %v, %v", rs, err)
	}
	if rs, err := s.TimeRecords(ctx, "SD-1"); err != nil || len(rs) != 1 {
		t.Errorf("time records of the anonymised SD-1 = %v, %v", rs, err)
	}
	if w, _ := rdb.ZRange(ctx, s.key(needsAgentIndex), 0, -1).Result(); len(w) != 0 {
		t.Errorf("waiting for an agent after retention: %v", w)
	}
	if c, err := s.CheckIndexes(ctx, false); err != nil || c.Missing+c.Stale != 0 {
		t.Errorf("check after retention = %+v, %v", c, err)
	}
	// Years later SD-1's anonymous record goes, with its time records.
	if _, err := s.RunRetention(ctx, p, &fakeMail{}, retNow.Add(5*365*24*time.Hour), false); err != nil {
		t.Fatal(err)
	}
	if got := members(); got != "SD-2" {
		t.Errorf("time index after SD-1 was deleted = %q", got)
	}
}

// The Message-IDs an aging forgets are counted; the quarantined mails go
// after retention.quarantine, the copies of sent mail after
// retention.sent, and the outbox's records after
// retention.outbox (RecordTrimmer), each in the dry run too.
func TestRetentionCountsAndNewKinds(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for _, id := range []string{"a@x", "b@x"} {
		if _, err := s.Create(ctx, id, New{Subject: "a", MessageID: id}, nil); err != nil {
			t.Fatal(err)
		}
	}
	year := 365 * 24 * time.Hour
	trim := &fakeTrimmer{}
	p := RetentionPolicy{Seen: year, Quarantine: 90 * 24 * time.Hour, Sent: 60 * 24 * time.Hour, Records: 30 * 24 * time.Hour, Outbox: trim, Batch: 10}
	t0 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	mail := &fakeMail{}
	for i, at := range []time.Time{t0, t0.Add(year), t0.Add(2 * year)} {
		dry, err := s.RunRetention(ctx, p, mail, at, true)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.RunRetention(ctx, p, mail, at, false)
		if err != nil {
			t.Fatal(err)
		}
		// The first aging makes seen the previous generation, which the
		// second forgets: two Message-IDs.
		want := []int64{0, 0, 2}[i]
		if dry.SeenExpired != want || r.SeenExpired != want {
			t.Errorf("run %d: Message-IDs forgotten %d (dry %d), want %d", i, r.SeenExpired, dry.SeenExpired, want)
		}
		if dry.QuarantinedMails != 1 || r.QuarantinedMails != 1 || !mail.quarantined[i].Equal(at.Add(-90*24*time.Hour)) {
			t.Errorf("run %d: quarantined mails %d (dry %d), before %v", i, r.QuarantinedMails, dry.QuarantinedMails, mail.quarantined)
		}
		if dry.SentMails != 2 || r.SentMails != 2 || !mail.sent[i].Equal(at.Add(-60*24*time.Hour)) {
			t.Errorf("run %d: copies of sent mail %d (dry %d), before %v", i, r.SentMails, dry.SentMails, mail.sent)
		}
		if dry.DeadLetters != 3 || dry.SkippedEntries != 4 || r.DeadLetters != 3 || r.SkippedEntries != 4 {
			t.Errorf("run %d: outbox records %+v (dry %+v)", i, r, dry)
		}
	}
	if len(trim.before) != 6 || !trim.before[5].Equal(t0.Add(2*year-30*24*time.Hour)) || trim.dry[0] != true || trim.dry[1] != false {
		t.Errorf("outbox records trimmed before %v, dry %v", trim.before, trim.dry)
	}
}

// fakeTrimmer records what retention asked the outbox to trim (the real
// one is notify.Outbox.TrimRecords, tested there).
type fakeTrimmer struct {
	before []time.Time
	dry    []bool
}

func (f *fakeTrimmer) TrimRecords(_ context.Context, t time.Time, dry bool) (int64, int64, error) {
	f.before, f.dry = append(f.before, t), append(f.dry, dry)
	return 3, 4, nil
}

// Time and change requests recorded before tickets listed their
// idempotency keys (timeKeysKey, requestKeysKey): the first retention run
// that may delete lists them, so that deleting SD-5 removes its fields of
// timekeys and requests; those of a ticket deleted by an older version
// (SD-99) go then too, SD-2's stay.
func TestRetentionDeletesLegacyTimeKeys(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	retentionDesk(t, s)
	at := retNow.Add(-8 * 365 * 24 * time.Hour)
	for _, n := range []string{"SD-2", "SD-5"} {
		r := TimeRecord{Ticket: n, Customer: "acme", Agent: "alice", Start: at, Minutes: 30, Activity: "remote", RecordedAt: at, Via: "cli"}
		if _, _, err := s.AddTime(ctx, r, "request k-"+n, "", Event{At: at, Kind: EventTime}, BudgetNotes{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"SD-2", "SD-5"} {
		if _, err := s.Apply(ctx, n, Change{At: at, Event: &Event{At: at, Kind: EventNote, Text: "n"}, Request: "note k-" + n}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// As an older version left them.
	rdb.Del(ctx, s.key(timeKeysKey("SD-2")), s.key(timeKeysKey("SD-5")), s.key(requestKeysKey("SD-2")), s.key(requestKeysKey("SD-5")))
	rdb.HSet(ctx, s.key("timekeys"), "request k-SD-99", "SD-99 0123456789ab")
	rdb.HSet(ctx, s.key("requests"), "note k-SD-99", "SD-99")
	p := RetentionPolicy{Keep: 7 * 365 * 24 * time.Hour, Batch: 100}
	r, err := s.RunRetention(ctx, p, &fakeMail{}, retNow, false)
	if err != nil || len(r.Tickets) != 1 || r.Tickets[0].Number != "SD-5" {
		t.Fatalf("retention = %+v, %v", r, err)
	}
	if keys, _ := rdb.HKeys(ctx, s.key("timekeys")).Result(); strings.Join(keys, ",") != "request k-SD-2" {
		t.Errorf("timekeys after deleting SD-5 = %v", keys)
	}
	if m, _ := rdb.SMembers(ctx, s.key(timeKeysKey("SD-2"))).Result(); strings.Join(m, ",") != "request k-SD-2" {
		t.Errorf("SD-2's time request keys = %v", m)
	}
	if keys, _ := rdb.HKeys(ctx, s.key("requests")).Result(); strings.Join(keys, ",") != "note k-SD-2" {
		t.Errorf("requests after deleting SD-5 = %v", keys)
	}
	if m, _ := rdb.SMembers(ctx, s.key(requestKeysKey("SD-2"))).Result(); strings.Join(m, ",") != "note k-SD-2" {
		t.Errorf("SD-2's change request keys = %v", m)
	}
	if n, _ := rdb.Exists(ctx, s.key(timeKeysKey("SD-5")), s.key(timeKeysKey("SD-99")), s.key(requestKeysKey("SD-5")), s.key(requestKeysKey("SD-99"))).Result(); n != 0 {
		t.Errorf("%d time request key sets of deleted tickets", n)
	}
}

// Anonymisation (retention.closed_after) keeps a ticket's time records, so
// that statements of old periods still add up, but not their free text:
// agents write customers' names in a note or a reason for voiding.
func TestRetentionAnonymisesTimeRecords(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	retentionDesk(t, s)
	at := retNow.Add(-3 * 365 * 24 * time.Hour)
	var ids []string
	for i, note := range []string{"called Jan Jansen back on 06-12345678", "fixed Jan's printer"} {
		r := TimeRecord{Ticket: "SD-1", Customer: "acme", Agent: "alice", Start: at.Add(time.Duration(i) * time.Hour), Minutes: 30 + i,
			Activity: "remote", Billable: i == 0, Note: note, RecordedAt: at, Via: "cli"}
		got, _, err := s.AddTime(ctx, r, "", "", Event{At: at, Kind: EventTime}, BudgetNotes{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got.ID)
	}
	if _, _, err := s.VoidTime(ctx, "SD-1", "acme", ids[1], "alice", "Jan Jansen said it was free", at, Event{At: at, Kind: EventTime}, BudgetNotes{}); err != nil {
		t.Fatal(err)
	}
	before, err := s.TimeRecords(ctx, "SD-1")
	if err != nil || len(before) != 2 {
		t.Fatalf("time records before = %v, %v", before, err)
	}
	sumBefore, _ := rdb.HGetAll(ctx, s.key("t:SD-1:timesum")).Result()
	indexBefore, _ := rdb.ZRange(ctx, s.key("time:c:acme"), 0, -1).Result()
	p := RetentionPolicy{ClosedAfter: 2 * 365 * 24 * time.Hour, Keep: 7 * 365 * 24 * time.Hour, Batch: 100}
	if _, err := s.RunRetention(ctx, p, &fakeMail{}, retNow, false); err != nil {
		t.Fatal(err)
	}
	if tk, err := s.Get(ctx, "SD-1"); err != nil || tk.AnonymisedAt == nil {
		t.Fatalf("SD-1 not anonymised: %+v, %v", tk, err)
	}
	raw, err := rdb.HGetAll(ctx, s.key("t:SD-1:time")).Result()
	if err != nil {
		t.Fatal(err)
	}
	for id, v := range raw {
		if strings.Contains(v, "Jan") {
			t.Errorf("anonymised time record %s still holds free text: %s", id, v)
		}
	}
	after, err := s.TimeRecords(ctx, "SD-1")
	if err != nil || len(after) != len(before) {
		t.Fatalf("time records after = %v, %v", after, err)
	}
	for i, r := range after {
		want := before[i]
		want.Note, want.VoidReason = "", ""
		if !reflect.DeepEqual(r, want) {
			t.Errorf("anonymised time record\n got %+v\nwant %+v", r, want)
		}
	}
	if sum, _ := rdb.HGetAll(ctx, s.key("t:SD-1:timesum")).Result(); !reflect.DeepEqual(sum, sumBefore) {
		t.Errorf("time totals after anonymisation = %v, want %v", sum, sumBefore)
	}
	if index, _ := rdb.ZRange(ctx, s.key("time:c:acme"), 0, -1).Result(); !reflect.DeepEqual(index, indexBefore) {
		t.Errorf("customer's time index after anonymisation = %v, want %v", index, indexBefore)
	}
}
