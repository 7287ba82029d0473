package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/ticket"
)

// resultLog is an Observer that keeps the outcomes in the order reported.
type resultLog struct {
	mu  sync.Mutex
	res []Result
}

func (l *resultLog) Observe(r Result, _ time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.res = append(l.res, r)
}

func (l *resultLog) Reconnected() {}

func (l *resultLog) results() []Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Result(nil), l.res...)
}

// startWatcher runs a watcher of srv with pipe until the test ends.
func startWatcher(t *testing.T, srv *testserver.MemIMAPServer, pipe *Pipeline, batch int, cp Checkpoints) (*Watcher, *resultLog) {
	t.Helper()
	w := NewWatcher(WatcherConfig{
		Address: srv.Addr, Security: "none", Username: srv.User, Password: srv.Password, Mailbox: "INBOX",
		Processed: "Processed", Rejected: "Rejected", Quarantine: "Quarantine",
		PollInterval: 200 * time.Millisecond, CommandTimeout: 5 * time.Second, BatchSize: batch,
	}, pipe, slog.New(slog.DiscardHandler))
	w.Checkpoints = cp
	rl := &resultLog{}
	w.Observer = rl
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w, rl
}

// The mails of one batch are parsed together and their commits sent in one
// round trip, yet each mail sees the mails before it: a reply threads onto
// the ticket made from a mail just before it in the same batch. The
// outcomes are exactly those of handling the mails one by one
// (TestThreading).
func TestWatcherBatchSameAsOneByOne(t *testing.T) {
	p, store, rdb := newPipeline(t, []config.Customer{
		{ID: "acme", Contacts: []config.Contact{{Email: "jan@acme.example"}, {Email: "piet@acme.example"}}},
		{ID: "globex", Contacts: []config.Contact{{Email: "ann@globex.example"}}},
	})
	ctx := context.Background()
	if err := store.RecordSent(ctx, "ack.sd-1.d.maildesk.0a1b@desk.example", "SD-1"); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		mail     string
		outcome  Outcome
		ticket   string
		followUp bool
	}{
		{"From: jan@acme.example\nSubject: Printer kapot\nMessage-ID: <m1@acme.example>\n\nkapot\n", Processed, "SD-1", false},
		{"From: stranger@else.example\nSubject: hello\nMessage-ID: <s1@else.example>\n\nhi\n", Rejected, "", false},
		{"From: jan@acme.example\nSubject: nog steeds\nMessage-ID: <m2@acme.example>\nIn-Reply-To: <m1@acme.example>\n\nnog steeds kapot\n", Processed, "SD-1", true},
		{"From: ann@globex.example\nSubject: Our VPN\nMessage-ID: <a1@globex.example>\n\ndown\n", Processed, "SD-2", false},
		{"From: piet@acme.example\nSubject: AW: [sd-1] Printer kapot\nMessage-ID: <p1@acme.example>\n\nook bij mij\n", Processed, "SD-1", true},
		{"\x00 not a mail\n", Quarantined, "", false},
		{"From: ann@globex.example\nSubject: Re: Our VPN\nMessage-ID: <a2@globex.example>\nReferences: <a1@globex.example>\n\nstill down\n", Processed, "SD-2", true},
		{"From: jan@acme.example\nSubject: [SD-99] old\nMessage-ID: <m4@acme.example>\n\nx\n", Processed, "SD-3", false},
		{"From: jan@acme.example\nSubject: nog steeds\nMessage-ID: <m2@acme.example>\nIn-Reply-To: <m1@acme.example>\n\nnog steeds kapot\n", Processed, "SD-1", true},
	}
	srv := testserver.MemIMAP(t, testserver.MemIMAPOptions{})
	for _, st := range steps {
		srv.Append(t, "INBOX", []byte(strings.ReplaceAll(st.mail, "\n", "\r\n")))
	}
	_, rl := startWatcher(t, srv, p, 100, nil)
	waitFor(t, "all mails", func() bool { return len(rl.results()) == len(steps) && len(srv.Mailbox(t, "INBOX")) == 0 })
	for i, res := range rl.results() {
		st := steps[i]
		if res.Outcome != st.outcome || res.Ticket != st.ticket || res.FollowUp != st.followUp {
			t.Errorf("mail %d: got %+v, want outcome %v ticket %q follow-up %v", i+1, res, st.outcome, st.ticket, st.followUp)
		}
	}
	if n := len(srv.Mailbox(t, "Processed")); n != 7 {
		t.Errorf("Processed holds %d, want 7", n)
	}
	evs, err := store.Events(ctx, "SD-1")
	if err != nil || len(evs) != 2 {
		t.Errorf("SD-1 has events %+v (%v), want the two replies", evs, err)
	}
	if n, _ := rdb.XLen(ctx, "md:{d}:outbox").Result(); n != 4 {
		t.Errorf("outbox %d, want acks for SD-1..SD-3 and one notice", n)
	}
}

// failingStore fails the first commit of one mail, like a Redis hiccup.
type failingStore struct {
	Committer
	mu     sync.Mutex
	failOn string
	failed bool
}

func (f *failingStore) fail(dedupe string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if dedupe == f.failOn && !f.failed {
		f.failed = true
		return errors.New("injected commit failure")
	}
	return nil
}

func (f *failingStore) Create(ctx context.Context, dedupe string, t ticket.New, note []string) (ticket.Result, error) {
	if err := f.fail(dedupe); err != nil {
		return ticket.Result{}, err
	}
	return f.Committer.Create(ctx, dedupe, t, note)
}

// batchingStore is failingStore with CommitBatch.
type batchingStore struct{ *failingStore }

func (b batchingStore) CommitBatch(ctx context.Context, cs []ticket.Commit) []ticket.CommitResult {
	out := make([]ticket.CommitResult, len(cs))
	var ok []ticket.Commit
	var at []int
	for i, c := range cs {
		if err := b.fail(c.Dedupe); err != nil {
			out[i].Err = err
			continue
		}
		ok, at = append(ok, c), append(at, i)
	}
	for j, r := range b.Committer.(BatchCommitter).CommitBatch(ctx, ok) {
		out[at[j]] = r
	}
	return out
}

// A commit that fails takes the mail (and the mails after it that were not
// yet committed) out of the run: they stay in the inbox, the session ends
// and the next one handles them. Nothing is lost or done twice, tickets
// stay in mail order, and on a server where handled mail stays in the inbox
// the checkpoint does not pass the failed mail although later batches were
// already in flight.
func TestWatcherCommitFailureMidBacklog(t *testing.T) {
	for _, tt := range []struct {
		name  string
		batch bool
		caps  imap.CapSet
	}{
		{"one call per commit, MOVE", false, nil},
		{"batched commits, MOVE", true, nil},
		{"batched commits, mail stays in the inbox", true, imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, store, _ := newPipeline(t, []config.Customer{{ID: "acme", Contacts: []config.Contact{{Email: "jan@acme.example"}}}})
			fs := &failingStore{Committer: store, failOn: "m7@acme.example"}
			p.Store = fs
			if tt.batch {
				p.Store = batchingStore{fs}
			}
			srv := testserver.MemIMAP(t, testserver.MemIMAPOptions{Caps: tt.caps})
			const n = 40
			for i := range n {
				srv.Append(t, "INBOX", testMail("jan@acme.example", fmt.Sprintf("mail %d", i+1), fmt.Sprintf("m%d@acme.example", i+1)))
			}
			w, _ := startWatcher(t, srv, p, 4, store)
			waitFor(t, "all mails, after a reconnect", func() bool {
				return len(srv.Mailbox(t, "Processed")) >= n && w.Status().Reconnects >= 1 && w.Status().State != "connected"
			})
			time.Sleep(300 * time.Millisecond)
			if got := len(srv.Mailbox(t, "Processed")); got != n {
				t.Errorf("Processed holds %d, want %d", got, n)
			}
			ts, err := store.List(context.Background())
			if err != nil || len(ts) != n {
				t.Fatalf("%d tickets (%v), want %d", len(ts), err, n)
			}
			// One call per commit stops at the failure; batched commits after
			// it in the same round trip were made, so the failed mail's ticket
			// comes after theirs.
			seen := map[string]bool{}
			for i, tk := range ts {
				seen[tk.Subject] = true
				if want := fmt.Sprintf("mail %d", i+1); !tt.batch && tk.Subject != want {
					t.Fatalf("ticket %s is %q, want %q: not in mail order", tk.Number, tk.Subject, want)
				}
			}
			if len(seen) != n {
				t.Fatalf("tickets for %d distinct mails, want %d", len(seen), n)
			}
			if !strings.Contains(w.Status().LastError, "injected commit failure") {
				t.Errorf("last error %q, want the commit failure", w.Status().LastError)
			}
		})
	}
}

// On shutdown the mails already fetched are finished: committed and moved.
func TestWatcherShutdownFinishesMailInHand(t *testing.T) {
	p, store, _ := newPipeline(t, []config.Customer{{ID: "acme", Contacts: []config.Contact{{Email: "jan@acme.example"}}}})
	srv := testserver.MemIMAP(t, testserver.MemIMAPOptions{})
	const n = 3000
	for i := range n {
		srv.Append(t, "INBOX", testMail("jan@acme.example", fmt.Sprintf("mail %d", i+1), fmt.Sprintf("m%d@acme.example", i+1)))
	}
	w := NewWatcher(WatcherConfig{
		Address: srv.Addr, Security: "none", Username: srv.User, Password: srv.Password, Mailbox: "INBOX",
		Processed: "Processed", Rejected: "Rejected", Quarantine: "Quarantine", CommandTimeout: 5 * time.Second, BatchSize: 50,
	}, p, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	waitFor(t, "the backlog to start", func() bool { ts, _ := store.List(context.Background()); return len(ts) > 0 })
	cancel()
	<-done
	ts, err := store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	moved, left := len(srv.Mailbox(t, "Processed")), len(srv.Mailbox(t, "INBOX"))
	if moved != len(ts) || moved+left != n || left == 0 {
		t.Fatalf("after shutdown: %d tickets, %d moved, %d left of %d: every committed mail must be moved, and no more", len(ts), moved, left, n)
	}
}
