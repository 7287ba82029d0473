package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

func TestSeqKeywordsRoundTrip(t *testing.T) {
	for _, n := range []int64{1, 2, 3, 675, 1 << 21, 4_000_000, 1<<39 + 5} {
		kws := append(seqKeywords(n), KeywordTicket)
		// Servers may change the case of keywords.
		kws = append(kws, imap.Flag(strings.ToLower(string(kws[0]))), imap.FlagSeen, "$Forwarded")
		if kind, seq := readKeywords(kws); kind != entryTicket || seq != n {
			t.Errorf("%d: keywords %v read as %v %d", n, kws, kind, seq)
		}
	}
	if kind, seq := readKeywords([]imap.Flag{KeywordRejected, "$MDn3"}); kind != entryRejected || seq != 0 {
		t.Errorf("rejected read as %v %d", kind, seq)
	}
	if kind, _ := readKeywords([]imap.Flag{KeywordFollowUp, "$MDn0"}); kind != entryFollowUp {
		t.Errorf("follow-up read as %v", kind)
	}
	if kind, _ := readKeywords([]imap.Flag{imap.FlagSeen, "$MDnx", "$MDn99"}); kind != entryNone {
		t.Errorf("no outcome read as %v", kind)
	}
}

// mailServer is the IMAP server of a journal test: the in-process go-imap
// server or Dovecot.
type mailServer struct {
	addr, user, password string
	deliver              func(raw []byte)
	mailbox              func(folder string) []testserver.Message
}

func memServer(t *testing.T) mailServer {
	srv := testserver.MemIMAP(t, testserver.MemIMAPOptions{})
	return mailServer{addr: srv.Addr, user: srv.User, password: srv.Password,
		deliver: func(raw []byte) { srv.Append(t, "INBOX", raw) },
		mailbox: func(f string) []testserver.Message { return srv.Mailbox(t, f) }}
}

func dovecotServer(t *testing.T) mailServer {
	dc := testserver.Dovecot(t)
	const user = "desk@desk.example"
	return mailServer{addr: dc.IMAPAddr, user: user, password: dc.Password,
		deliver: func(raw []byte) { dc.Deliver(t, user, raw) },
		mailbox: func(f string) []testserver.Message { return dc.Mailbox(t, user, f) }}
}

// countingSender records what was sent; it can be paused, and made to
// take mail without answering the end of DATA (unanswered).
type countingSender struct {
	mu         sync.Mutex
	sent       map[string]int
	paused     bool
	unanswered bool
}

func (s *countingSender) Send(_ context.Context, n notify.Notification) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused {
		return fmt.Errorf("relay paused by the test")
	}
	s.sent[n.ID]++
	if s.unanswered {
		return fmt.Errorf("sending: delivery uncertain: %w",
			&notify.SMTPError{Stage: notify.StageDataEnd, Err: errors.New("read tcp 127.0.0.1:25: i/o timeout")})
	}
	return nil
}

func (s *countingSender) answer(a bool) {
	s.mu.Lock()
	s.unanswered = !a
	s.mu.Unlock()
}

func (s *countingSender) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[id]
}

func (s *countingSender) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.sent {
		n += v
	}
	return n
}

func (s *countingSender) pause(p bool) {
	s.mu.Lock()
	s.paused = p
	s.mu.Unlock()
}

// journalRig is a desk as the daemon wires it (watcher, journal, outbox
// with the trace of sent mail) on real Redis and a real IMAP server.
type journalRig struct {
	redis   *testserver.RedisServer
	store   *ticket.Store
	outbox  *notify.Outbox
	journal *Journal
	sender  *countingSender
	logs    *testserver.Buffer
}

func newJournalRig(t *testing.T, ms mailServer) *journalRig {
	t.Helper()
	r := &journalRig{redis: testserver.Redis(t), sender: &countingSender{sent: map[string]int{}}, logs: &testserver.Buffer{}}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var j *Journal
	rdb := redis.NewClient(&redis.Options{Addr: r.redis.Addr, OnConnect: func(ctx context.Context, cn *redis.Conn) error {
		if j != nil {
			j.ObserveServer(ticket.ServerID(ctx, cn))
		}
		return nil
	}})
	t.Cleanup(func() { rdb.Close() })
	r.outbox = notify.NewOutbox(rdb, "d")
	r.store = ticket.NewStore(rdb, ticket.Options{DeskID: "d", TicketPrefix: "SD", OutboxKey: r.outbox.Key(), NoticeInterval: time.Hour})
	pipe := &Pipeline{
		Threads: r.store, TicketPrefix: "SD",
		Authz: authz.NewDirectory([]config.Customer{{ID: "acme", Name: "Acme", Contacts: []config.Contact{
			{Email: "jan@acme.example", Main: true}, {Email: "piet@acme.example"}}}}),
		Own:      Own{Address: "desk@desk.example", MessageIDDomain: "desk.example", LoopHeader: "X-Maildesk-Loop", DeskID: "d"},
		Language: "en", Priority: "P3", Log: log,
	}
	wc := WatcherConfig{
		Address: ms.addr, Security: "none", Username: ms.user, Password: ms.password, Mailbox: "INBOX",
		Processed: "Processed", Rejected: "Rejected", Quarantine: "Quarantine",
		PollInterval: 200 * time.Millisecond, CommandTimeout: 5 * time.Second, BatchSize: 10,
	}
	j = NewJournal(JournalConfig{Mailbox: wc, Sent: "Sent", Window: 50, Interval: time.Hour, Log: log}, r.store, r.outbox, pipe)
	r.journal = j
	w := NewWatcher(wc, pipe, log)
	w.Gate = j
	desk := notify.Desk{ID: "d", Name: "Desk", Address: "desk@desk.example", DefaultLanguage: "en"}
	mailer := notify.NewMailer(notify.SMTPConfig{Address: "127.0.0.1:1"}, desk)
	del := &notify.Delivery{
		Outbox: r.outbox, Consumer: "test", Retry: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Log: log,
		Sender: notify.Held{Sender: r.sender, Hold: func(n notify.Notification) error {
			if j.Holding() && !n.Kind.IsAlarm() {
				return fmt.Errorf("held")
			}
			return nil
		}},
		Accepted: func(ctx context.Context, n notify.Notification) {
			if raw, err := mailer.TraceCopy(n, time.Now(), false); err == nil {
				_ = j.Trace(ctx, n, raw, time.Now(), false)
			}
		},
		Uncertain: SentTrace{Journal: j, Copies: mailer, Log: log}.Uncertain,
		Delivered: func(ctx context.Context, n notify.Notification) error {
			if n.Kind == notify.Ack {
				if err := r.store.MarkAcknowledged(ctx, n.Ticket, time.Now()); err != nil {
					return err
				}
			}
			at := time.Now()
			raw, err := mailer.TraceCopy(n, at, false)
			if err != nil {
				return err
			}
			return j.Trace(ctx, n, raw, at, false)
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { j.Run(ctx) })
	wg.Go(func() { _ = w.Run(ctx) })
	wg.Go(func() {
		for ctx.Err() == nil {
			if !j.Holding() {
				if !mailerReady(ctx, r.outbox, mailer) {
					continue
				}
				_, _ = del.Drain(ctx)
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if t.Failed() {
			t.Logf("log:\n%s", r.logs.String())
		}
	})
	return r
}

// mailerReady creates the outbox group and gives the mailer the desk's
// secret, as the daemon does before it sends (again after Redis lost it).
func mailerReady(ctx context.Context, ob *notify.Outbox, m *notify.Mailer) bool {
	if err := ob.Init(ctx); err != nil {
		return false
	}
	secret, err := ob.Secret(ctx)
	if err != nil {
		return false
	}
	m.SetSecret(secret)
	return true
}

func hasKeywords(m testserver.Message, want ...imap.Flag) bool {
	for _, w := range want {
		if !slices.ContainsFunc(m.Flags, func(f string) bool { return strings.EqualFold(f, string(w)) }) {
			return false
		}
	}
	return true
}

func flagsOf(m testserver.Message) []imap.Flag {
	out := make([]imap.Flag, len(m.Flags))
	for i, f := range m.Flags {
		out[i] = imap.Flag(f)
	}
	return out
}

// Issue 16: Redis restored from a backup taken before the last tickets
// were made forgets them, and their acknowledgements; the mailbox does
// not. The journal notices, holds the intake and the outbox, re-creates
// the tickets under their numbers as of their mails' arrival, restores the
// refusal records and what was sent, and nothing is sent twice or given a
// number twice; the next mail gets the next number.
func TestJournalRepairsRestoredBackup(t *testing.T) {
	for name, server := range map[string]func(*testing.T) mailServer{"memimap": memServer, "dovecot": dovecotServer} {
		t.Run(name, func(t *testing.T) {
			ms := server(t)
			r := newJournalRig(t, ms)
			ctx := context.Background()
			waitFor(t, "the first comparison", func() bool { return r.journal.Status().State == "ok" })

			ms.deliver(testMail("jan@acme.example", "first", "t1@acme.example"))
			ms.deliver(testMail("x@stranger.example", "hello", "s1@stranger.example"))
			waitFor(t, "first mails answered", func() bool { return r.sender.count("SD-1/ack") == 1 && len(ms.mailbox("Rejected")) == 1 })
			// SD-2's acknowledgement is queued, not sent, when the backup
			// is taken: after the restore the outbox holds it again.
			r.sender.pause(true)
			ms.deliver(testMail("piet@acme.example", "second", "t2@acme.example"))
			waitFor(t, "SD-2 filed", func() bool { return len(ms.mailbox("Processed")) == 2 })
			backup := r.redis.Snapshot(t)
			r.sender.pause(false)
			ms.deliver(testMail("jan@acme.example", "third", "t3@acme.example"))
			ms.deliver(testMail("y@stranger.example", "hi", "s2@stranger.example"))
			ms.deliver(testMail("piet@acme.example", "fourth", "t4@acme.example"))
			waitFor(t, "all answered", func() bool {
				return r.sender.count("SD-4/ack") == 1 && r.sender.count("SD-2/ack") == 1 && len(ms.mailbox("Rejected")) == 2 &&
					r.sender.total() == 6 && len(ms.mailbox("Sent")) == 6
			})

			processed := ms.mailbox("Processed")
			arrived := map[string]time.Time{}
			for _, m := range processed {
				kind, seq := readKeywords(flagsOf(m))
				id := journalMessageID(parseJournalHeader(m.Raw).Get("Message-Id"))
				if kind != entryTicket || seq < 1 || seq > 4 {
					t.Errorf("Processed mail <%s> has keywords %v", id, m.Flags)
				}
				arrived[id] = m.Arrived
			}
			for _, m := range ms.mailbox("Rejected") {
				if !hasKeywords(m, KeywordRejected) {
					t.Errorf("Rejected mail uid %d has keywords %v", m.UID, m.Flags)
				}
			}

			r.redis.RestoreSnapshot(t, backup)
			waitFor(t, "the repair", func() bool {
				st := r.journal.Status()
				return st.State == "ok" && st.Repairs >= 1
			})
			for i, id := range []string{"t1@acme.example", "t2@acme.example", "t3@acme.example", "t4@acme.example"} {
				number := fmt.Sprintf("SD-%d", i+1)
				tk, err := r.store.Get(ctx, number)
				if err != nil || tk.MessageID != id {
					t.Fatalf("%s after the repair: %+v %v", number, tk, err)
				}
				if tk.Key != ticket.KeyOf(id) {
					t.Errorf("%s has key %q", number, tk.Key)
				}
				if i >= 2 && !tk.CreatedAt.Equal(arrived[id]) {
					t.Errorf("%s re-created as of %s, its mail arrived %s", number, tk.CreatedAt, arrived[id])
				}
				if tk.AcknowledgedAt == nil {
					t.Errorf("%s is not marked acknowledged", number)
				}
			}
			rej, err := r.store.Rejections(ctx)
			if err != nil || len(rej) != 2 {
				t.Errorf("rejection records after the repair: %+v %v", rej, err)
			}

			// The next mail takes the next number; a stranger already
			// noticed is not noticed again.
			ms.deliver(testMail("jan@acme.example", "fifth", "t5@acme.example"))
			ms.deliver(testMail("y@stranger.example", "again", "s3@stranger.example"))
			waitFor(t, "the fifth ticket", func() bool { return r.sender.count("SD-5/ack") == 1 && len(ms.mailbox("Rejected")) == 3 })
			if tk, err := r.store.Get(ctx, "SD-5"); err != nil || tk.MessageID != "t5@acme.example" {
				t.Errorf("SD-5: %+v %v", tk, err)
			}
			time.Sleep(300 * time.Millisecond) // anything more the outbox would send
			for id, n := range r.sender.sent {
				if n != 1 {
					t.Errorf("%s sent %d times", id, n)
				}
			}
			t.Logf("journal: %+v", r.journal.Status())
			if n := r.sender.total(); n != 7 {
				t.Errorf("%d mails sent, want 7 (5 acks, 2 notices): %v", n, r.sender.sent)
			}
		})
	}
}

// Redis loses writes without its server changing (keys lost, a sequence
// set back): the next commit finds the sequence below the highest number
// the desk gave and is refused; the intake is held while the journal
// repairs Redis, and the mail then gets the next number, not a used one.
func TestJournalFloorRefusesAReusedNumber(t *testing.T) {
	ms := memServer(t)
	r := newJournalRig(t, ms)
	ctx := context.Background()
	waitFor(t, "the first comparison", func() bool { return r.journal.Status().State == "ok" })
	for i := 1; i <= 3; i++ {
		ms.deliver(testMail("jan@acme.example", fmt.Sprintf("mail %d", i), fmt.Sprintf("t%d@acme.example", i)))
	}
	waitFor(t, "three tickets", func() bool { return r.sender.count("SD-3/ack") == 1 })
	// What a lost second of writes looks like from here: SD-2 and SD-3
	// gone, the sequence back at 1, the same server.
	rdb := redis.NewClient(&redis.Options{Addr: r.redis.Addr})
	defer rdb.Close()
	kp := config.KeyPrefix("d")
	if err := rdb.Set(ctx, kp+"seq", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Del(ctx, kp+"t:SD-2", kp+"t:SD-3", kp+"sent:SD-2/ack", kp+"sent:SD-3/ack")
	rdb.HDel(ctx, kp+"seen", "t2@acme.example", "t3@acme.example")

	ms.deliver(testMail("piet@acme.example", "after the loss", "t4@acme.example"))
	waitFor(t, "the fourth ticket", func() bool { return r.sender.count("SD-4/ack") == 1 })
	if tk, err := r.store.Get(ctx, "SD-4"); err != nil || tk.MessageID != "t4@acme.example" {
		t.Fatalf("SD-4: %+v %v", tk, err)
	}
	for i := 2; i <= 3; i++ {
		if tk, err := r.store.Get(ctx, fmt.Sprintf("SD-%d", i)); err != nil || tk.MessageID != fmt.Sprintf("t%d@acme.example", i) {
			t.Errorf("SD-%d after the repair: %+v %v", i, tk, err)
		}
	}
	if !strings.Contains(r.logs.String(), "a commit was refused: Redis is behind the mailbox journal") {
		t.Error("the refused commit is not in the log")
	}
	if st := r.journal.Status(); st.Repairs != 1 {
		t.Errorf("journal %+v, want one repair", st)
	}
	time.Sleep(300 * time.Millisecond)
	for id, n := range r.sender.sent {
		if n != 1 {
			t.Errorf("%s sent %d times", id, n)
		}
	}
}

// A follow-up Redis lost is recorded on its ticket again, once.
func TestJournalRestoresFollowUp(t *testing.T) {
	ms := memServer(t)
	r := newJournalRig(t, ms)
	ctx := context.Background()
	waitFor(t, "the first comparison", func() bool { return r.journal.Status().State == "ok" })
	ms.deliver(testMail("jan@acme.example", "printer", "t1@acme.example"))
	waitFor(t, "SD-1 answered", func() bool { return r.sender.count("SD-1/ack") == 1 })
	backup := r.redis.Snapshot(t)
	reply := strings.ReplaceAll("From: jan@acme.example\nTo: desk@desk.example\nSubject: Re: [SD-1] printer\nMessage-ID: <r1@acme.example>\nIn-Reply-To: <t1@acme.example>\n\nstill broken\n", "\n", "\r\n")
	ms.deliver([]byte(reply))
	waitFor(t, "the follow-up filed", func() bool { return len(ms.mailbox("Processed")) == 2 })
	for _, m := range ms.mailbox("Processed") {
		if kind, seq := readKeywords(flagsOf(m)); seq != 1 || (kind != entryTicket && kind != entryFollowUp) {
			t.Errorf("Processed mail uid %d has keywords %v", m.UID, m.Flags)
		}
	}
	r.redis.RestoreSnapshot(t, backup)
	waitFor(t, "the repair", func() bool { st := r.journal.Status(); return st.State == "ok" && st.Repairs >= 1 })
	evs, err := r.store.Events(ctx, "SD-1")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.MessageID == "r1@acme.example" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("SD-1 has the follow-up %d times after the repair: %+v", n, evs)
	}
	if got, _ := r.store.Lookup(ctx, []string{"r1@acme.example"}); got[0].Number != "SD-1" {
		t.Errorf("the follow-up is known as %+v", got[0])
	}
}

// A ticket an agent opens for a call is numbered as mail's: while Redis is
// not known to be in step with the journal it is refused (the agent tries
// again), and once Redis has lost writes its first try is refused below
// the floor and the repair follows; the next one gets the next number, not
// one a filed mail carries. A process without a journal (the CLI) reads in
// Redis whether the daemon is repairing it.
func TestJournalOpenerNumbersAboveTheJournal(t *testing.T) {
	ms := memServer(t)
	r := newJournalRig(t, ms)
	ctx := context.Background()
	open := r.journal.Opener()
	call := func(key string) (ticket.Result, error) {
		return open.Create(ctx, "open "+key, ticket.New{Subject: "call " + key, Customer: "acme", Contact: "jan@acme.example", CreatedAt: time.Now()}, nil)
	}
	waitFor(t, "the first comparison", func() bool { return r.journal.Status().State == "ok" })
	for i := 1; i <= 3; i++ {
		ms.deliver(testMail("jan@acme.example", fmt.Sprintf("mail %d", i), fmt.Sprintf("t%d@acme.example", i)))
	}
	waitFor(t, "three tickets", func() bool { return r.sender.count("SD-3/ack") == 1 })

	// A Redis server not compared yet: refused, to be tried again.
	r.journal.ObserveServer("another-server")
	if _, err := call("a"); !errors.Is(err, workflow.ErrUnavailable) {
		t.Fatalf("opening while Redis is not compared: %v, want workflow.ErrUnavailable", err)
	}
	waitFor(t, "the comparison of the new server", func() bool { return r.journal.Status().State == "ok" })

	rdb := redis.NewClient(&redis.Options{Addr: r.redis.Addr})
	defer rdb.Close()
	kp := config.KeyPrefix("d")
	if err := rdb.Set(ctx, kp+"seq", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Del(ctx, kp+"t:SD-2", kp+"t:SD-3", kp+"sent:SD-2/ack", kp+"sent:SD-3/ack")
	rdb.HDel(ctx, kp+"seen", "t2@acme.example", "t3@acme.example")
	if _, err := call("b"); !errors.Is(err, ticket.ErrBehind) {
		t.Fatalf("opening after Redis lost SD-2 and SD-3: %v, want ticket.ErrBehind", err)
	}
	waitFor(t, "the repair", func() bool { st := r.journal.Status(); return st.State == "ok" && st.Repairs >= 1 })
	res, err := call("b")
	if err != nil || res.Number != "SD-4" || !res.Created {
		t.Fatalf("opening after the repair: %+v %v, want SD-4", res, err)
	}
	if why, err := r.store.Behind(ctx); err != nil || why != "" {
		t.Errorf("Redis still marked behind after the repair: %q %v", why, err)
	}
	if !strings.Contains(r.logs.String(), "Redis is behind the mailbox journal") {
		t.Error("the repair is not in the log")
	}
}

// Issue 16 items 1 and 4: a mail the relay took without answering the end
// of DATA may have been delivered. It leaves its trace in the Sent folder,
// marked uncertain; when Redis then loses the record of that uncertainty
// (restored from a backup taken while the mail was still queued), the
// repair puts it back and the outbox keeps the mail waiting for an
// operator, as before the loss, instead of sending it again blindly: the
// entry left from before the loss, or the one the re-created ticket
// queues when the backup is older than the ticket.
func TestJournalKeepsUncertainDelivery(t *testing.T) {
	for _, queued := range []bool{true, false} {
		t.Run(map[bool]string{true: "queued at the backup", false: "ticket made after the backup"}[queued], func(t *testing.T) {
			testJournalKeepsUncertainDelivery(t, queued)
		})
	}
}

func testJournalKeepsUncertainDelivery(t *testing.T, queued bool) {
	ms := memServer(t)
	r := newJournalRig(t, ms)
	ctx := context.Background()
	waitFor(t, "the first comparison", func() bool { return r.journal.Status().State == "ok" })
	var backup string
	if !queued {
		backup = r.redis.Snapshot(t)
	}
	r.sender.pause(true)
	ms.deliver(testMail("jan@acme.example", "printer", "t1@acme.example"))
	waitFor(t, "SD-1 filed", func() bool { return len(ms.mailbox("Processed")) == 1 })
	if queued {
		backup = r.redis.Snapshot(t)
	}
	r.sender.answer(false)
	r.sender.pause(false)
	waitFor(t, "the uncertain delivery's trace", func() bool { return len(ms.mailbox("Sent")) == 1 })
	waitFor(t, "the outbox entry uncertain", func() bool {
		es, err := r.outbox.List(ctx)
		return err == nil && len(es) == 1 && es[0].State() == notify.StateUncertain
	})
	sent := ms.mailbox("Sent")[0]
	h := parseJournalHeader(sent.Raw)
	if h.Get(notify.TraceHeaderID) != "SD-1/ack" || h.Get(notify.TraceHeaderDelivery) != notify.TraceUncertain {
		t.Fatalf("trace of the uncertain delivery:\n%s", sent.Raw)
	}
	since, err := time.Parse(time.RFC3339, h.Get(notify.TraceHeaderSentAt))
	if err != nil {
		t.Fatal(err)
	}

	r.sender.answer(true)
	r.redis.RestoreSnapshot(t, backup)
	waitFor(t, "the repair", func() bool { st := r.journal.Status(); return st.State == "ok" && st.Repairs >= 1 })
	waitFor(t, "the outbox entry uncertain again", func() bool {
		es, err := r.outbox.List(ctx)
		return err == nil && len(es) == 1 && es[0].State() == notify.StateUncertain
	})
	es, _ := r.outbox.List(ctx)
	if e := es[0]; e.Notification.ID != "SD-1/ack" || !e.UncertainSince.Equal(since) || !strings.Contains(e.LastError, "delivery uncertain") {
		t.Errorf("after the repair: %+v, want SD-1/ack uncertain since %s", e, since)
	}
	if n := r.sender.count("SD-1/ack"); n != 1 {
		t.Errorf("SD-1/ack sent %d times, want 1 (the uncertain send)", n)
	}
	if tk, err := r.store.Get(ctx, "SD-1"); err != nil || tk.AcknowledgedAt != nil {
		t.Errorf("SD-1 after the repair: %+v %v; its acknowledgement is not known to have gone out", tk, err)
	}
	// The comparison after the repair finds Redis in step: the trace is
	// known by the uncertainty's record.
	p, err := r.journal.Plan(ctx, time.Time{})
	if err != nil || p.Behind() {
		t.Errorf("plan after the repair: %v %v", p.Steps(), err)
	}
	// An operator's retry sends it once more.
	if _, err := r.outbox.Retry(ctx, "SD-1/ack", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the operator's resend", func() bool { return r.sender.count("SD-1/ack") == 2 })
	// Delivered this time: its own trace, without the mark, and the
	// ticket acknowledged; the journal still finds Redis in step.
	waitFor(t, "the trace of the delivery", func() bool { return len(ms.mailbox("Sent")) == 2 })
	h = parseJournalHeader(ms.mailbox("Sent")[1].Raw)
	if h.Get(notify.TraceHeaderID) != "SD-1/ack" || h.Get(notify.TraceHeaderDelivery) != "" {
		t.Errorf("trace of the resend:\n%s", ms.mailbox("Sent")[1].Raw)
	}
	waitFor(t, "SD-1 acknowledged", func() bool {
		tk, err := r.store.Get(ctx, "SD-1")
		return err == nil && tk.AcknowledgedAt != nil
	})
	if p, err := r.journal.Plan(ctx, time.Time{}); err != nil || p.Behind() {
		t.Errorf("plan after the resend: %v %v", p.Steps(), err)
	}
}
