package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/ticket"
)

func testMail(from, subject, id string) []byte {
	return []byte(strings.ReplaceAll(fmt.Sprintf("From: %s\nTo: desk@desk.example\nSubject: %s\nMessage-ID: <%s>\n\nbody\n", from, subject, id), "\n", "\r\n"))
}

// runWatcher wires a watcher on srv to a real Redis store and runs it until
// the test ends.
func runWatcher(t *testing.T, srv *testserver.MemIMAPServer, maxSize int64) (*ticket.Store, *Watcher) {
	t.Helper()
	rs := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	store := ticket.NewStore(rdb, ticket.Options{DeskID: "d", TicketPrefix: "SD", OutboxKey: config.KeyPrefix("d") + "outbox"})
	logs := &testserver.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pipe := &Pipeline{
		Store:    store,
		Authz:    authz.NewDirectory([]config.Customer{{ID: "acme", Contacts: []config.Contact{{Email: "jan@acme.example"}}}}),
		Own:      Own{Address: "desk@desk.example", MessageIDDomain: "desk.example", LoopHeader: "X-Maildesk-Loop", DeskID: "d"},
		Language: "en", Priority: "P3", Log: log,
	}
	w := NewWatcher(WatcherConfig{
		Address: srv.Addr, Security: "none", Username: srv.User, Password: srv.Password, Mailbox: "INBOX",
		Processed: "Processed", Rejected: "Rejected", Quarantine: "Quarantine",
		PollInterval: 200 * time.Millisecond, CommandTimeout: 5 * time.Second, BatchSize: 2, MaxMessageSize: maxSize,
	}, pipe, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("watcher log:\n%s", logs.String())
		}
	})
	return store, w
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 30*time.Second, what, cond)
}

// waitWithin is waitFor for work whose time grows with its size: the bound
// only keeps a broken test from hanging, a loaded machine running the suite
// under -race is several times slower than an idle one.
func waitWithin(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The same outcome on every kind of server: with MOVE, with only UIDPLUS
// (copy, flag, expunge by UID), with neither (copy and flag seen), with and
// without IDLE.
func TestWatcherServerCapabilities(t *testing.T) {
	tests := []struct {
		name      string
		caps      imap.CapSet
		inboxLeft int // originals left behind (no way to remove only ours)
	}{
		{"move and idle", nil, 0},
		{"uidplus without move", imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}, imap.CapUIDPlus: {}}, 0},
		{"neither move nor uidplus", imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}}, 3},
		{"no idle: polling", imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapMove: {}, imap.CapUIDPlus: {}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testserver.MemIMAP(t, testserver.MemIMAPOptions{Caps: tt.caps})
			srv.Append(t, "INBOX", testMail("jan@acme.example", "waiting at start", "a@acme.example"))
			srv.Append(t, "INBOX", testMail("nobody@else.example", "stranger", "b@else.example"))
			store, w := runWatcher(t, srv, 0)
			waitFor(t, "mail waiting at start", func() bool { return len(srv.Mailbox(t, "Processed")) == 1 && len(srv.Mailbox(t, "Rejected")) == 1 })

			// New mail while the watcher waits (IDLE or poll).
			srv.Append(t, "INBOX", testMail("jan@acme.example", "arrives later", "c@acme.example"))
			waitFor(t, "mail arriving later", func() bool { return len(srv.Mailbox(t, "Processed")) == 2 })
			// A few more wake-ups must not process anything twice.
			time.Sleep(600 * time.Millisecond)
			if n := len(srv.Mailbox(t, "Processed")); n != 2 {
				t.Errorf("Processed has %d copies, want 2", n)
			}
			if n := len(srv.Mailbox(t, "INBOX")); n != tt.inboxLeft {
				t.Errorf("INBOX keeps %d mails, want %d", n, tt.inboxLeft)
			}
			ts, err := store.List(context.Background())
			if err != nil || len(ts) != 2 || ts[0].Subject != "waiting at start" || ts[1].Subject != "arrives later" {
				t.Fatalf("tickets %+v %v", ts, err)
			}
			if st := w.Status(); st.State != "idle" && st.State != "polling" {
				t.Errorf("status %+v, want idle or polling", st)
			}
		})
	}
}

// A mail the server says is larger than the limit is quarantined without
// being parsed, so is one that is no mail at all, and the next mail is
// processed.
func TestWatcherQuarantinesAndContinues(t *testing.T) {
	srv := testserver.MemIMAP(t, testserver.MemIMAPOptions{})
	big := append(testMail("jan@acme.example", "big", "big@acme.example"), bytes.Repeat([]byte("x"), 4096)...)
	srv.Append(t, "INBOX", big)
	srv.Append(t, "INBOX", []byte("\x00\x01 this is not a mail at all\r\n"))
	srv.Append(t, "INBOX", testMail("jan@acme.example", "small", "small@acme.example"))
	store, _ := runWatcher(t, srv, 2048)
	waitFor(t, "all handled", func() bool {
		return len(srv.Mailbox(t, "Quarantine")) == 2 && len(srv.Mailbox(t, "Processed")) == 1
	})
	if ts, _ := store.List(context.Background()); len(ts) != 1 || ts[0].Subject != "small" {
		t.Fatalf("tickets %+v", ts)
	}
}

// A server that greets and then goes silent must not hang the watcher: the
// watchdog closes the connection and the watcher reports and reconnects.
func TestWatcherSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				c.Write([]byte("* OK IMAP4rev1 ready\r\n"))
				io.Copy(io.Discard, c) // read everything, answer nothing
			}()
		}
	}()
	w := NewWatcher(WatcherConfig{Address: ln.Addr().String(), Security: "none", Username: "u", Password: "p",
		Mailbox: "INBOX", Processed: "P", Rejected: "R", Quarantine: "Q", CommandTimeout: 300 * time.Millisecond}, &Pipeline{}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	waitFor(t, "watchdog to end the silent session", func() bool {
		st := w.Status()
		return st.Reconnects >= 1 && strings.Contains(st.LastError, "login")
	})
	waitFor(t, "a reconnect", func() bool { return accepted.Load() >= 2 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// While Redis is down no mail leaves the inbox; once it is back the mail
// is processed. Nothing is lost or made twice.
func TestWatcherRedisOutage(t *testing.T) {
	srv := testserver.MemIMAP(t, testserver.MemIMAPOptions{})
	rs := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, MaxRetries: -1})
	defer rdb.Close()
	store := ticket.NewStore(rdb, ticket.Options{DeskID: "d", TicketPrefix: "SD", OutboxKey: config.KeyPrefix("d") + "outbox"})
	pipe := &Pipeline{Store: store, Authz: authz.NewDirectory([]config.Customer{{ID: "acme", Contacts: []config.Contact{{Email: "jan@acme.example"}}}}),
		Language: "en", Priority: "P3", Log: slog.New(slog.DiscardHandler)}
	w := NewWatcher(WatcherConfig{Address: srv.Addr, Security: "none", Username: srv.User, Password: srv.Password,
		Mailbox: "INBOX", Processed: "Processed", Rejected: "Rejected", Quarantine: "Quarantine", CommandTimeout: 5 * time.Second}, pipe, slog.New(slog.DiscardHandler))
	rs.Stop()
	srv.Append(t, "INBOX", testMail("jan@acme.example", "during outage", "o@acme.example"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the commit failure to be reported", func() bool { return strings.Contains(w.Status().LastError, "commit") })
	if n := len(srv.Mailbox(t, "INBOX")); n != 1 {
		t.Fatalf("INBOX has %d mails during the outage, want the mail kept", n)
	}
	rs.Restart(t)
	waitFor(t, "processing after Redis is back", func() bool { return len(srv.Mailbox(t, "Processed")) == 1 })
	if ts, err := store.List(context.Background()); err != nil || len(ts) != 1 {
		t.Fatalf("tickets %+v %v", ts, err)
	}
}

// On a server where handled mail must stay in the inbox (no MOVE, no
// UIDPLUS), the checkpoint keeps a restarted watcher from handling it again;
// a checkpoint of another UIDVALIDITY is ignored and the mailbox rescanned.
func TestWatcherCheckpoint(t *testing.T) {
	srv := testserver.MemIMAP(t, testserver.MemIMAPOptions{Caps: imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}}})
	rs := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	store := ticket.NewStore(rdb, ticket.Options{DeskID: "d", TicketPrefix: "SD", OutboxKey: "md:{d}:outbox"})
	// A checkpoint from a mailbox of another validity must not skip mail.
	if err := store.SaveCheckpoint(context.Background(), "INBOX", ticket.Checkpoint{Validity: 12345, Next: 1000}); err != nil {
		t.Fatal(err)
	}
	pipe := &Pipeline{Store: store, Authz: authz.NewDirectory([]config.Customer{{ID: "acme", Contacts: []config.Contact{{Email: "jan@acme.example"}}}}),
		Language: "en", Priority: "P3", Log: slog.New(slog.DiscardHandler)}
	run := func() (stop func()) {
		w := NewWatcher(WatcherConfig{Address: srv.Addr, Security: "none", Username: srv.User, Password: srv.Password,
			Mailbox: "INBOX", Processed: "Processed", Rejected: "Rejected", Quarantine: "Quarantine", CommandTimeout: 5 * time.Second}, pipe, slog.New(slog.DiscardHandler))
		w.Checkpoints = store
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = w.Run(ctx) }()
		return func() { cancel(); <-done }
	}
	srv.Append(t, "INBOX", testMail("jan@acme.example", "one", "1@acme.example"))
	srv.Append(t, "INBOX", testMail("jan@acme.example", "two", "2@acme.example"))
	stop := run()
	waitFor(t, "both copied", func() bool { return len(srv.Mailbox(t, "Processed")) == 2 })
	stop()
	cp, _ := store.LoadCheckpoint(context.Background(), "INBOX")
	if cp.Validity == 12345 || cp.Next != 3 {
		t.Fatalf("checkpoint %+v, want the mailbox's validity and next 3", cp)
	}
	srv.Append(t, "INBOX", testMail("jan@acme.example", "three", "3@acme.example"))
	stop = run()
	defer stop()
	waitFor(t, "the new mail copied", func() bool { return len(srv.Mailbox(t, "Processed")) >= 3 })
	time.Sleep(300 * time.Millisecond)
	if n := len(srv.Mailbox(t, "Processed")); n != 3 {
		t.Fatalf("Processed has %d copies after a restart, want 3: handled mail was copied again", n)
	}
}

// Mail arriving during a backlog is handled next, not after the backlog.
// The backlog is long enough that the watcher is still busy with it when
// the new mail comes (200 mails were gone before the test looked).
func TestWatcherNewMailNotStarved(t *testing.T) {
	const backlog = 2000
	srv := testserver.MemIMAP(t, testserver.MemIMAPOptions{})
	for i := range backlog {
		srv.Append(t, "INBOX", testMail("jan@acme.example", fmt.Sprintf("backlog %d", i), fmt.Sprintf("b%d@acme.example", i)))
	}
	store, _ := runWatcher(t, srv, 0) // batches of 2
	waitFor(t, "the backlog to start", func() bool { ts, _ := store.List(context.Background()); return len(ts) > 0 })
	// How far the backlog got before the new mail arrived is up to the
	// machine's speed (under -race on a loaded machine hundreds of mails
	// go by between two polls): what counts is how many backlog mails
	// were handled after it arrived.
	before, _ := store.List(context.Background())
	srv.Append(t, "INBOX", testMail("jan@acme.example", "arrived during the backlog", "new@acme.example"))
	if len(before) > backlog/2 {
		t.Logf("the machine handled %d of %d backlog mails before the new mail was appended", len(before), backlog)
	}
	waitWithin(t, 2*time.Minute, "all handled", func() bool { ts, _ := store.List(context.Background()); return len(ts) == backlog+1 })
	ts, _ := store.List(context.Background())
	for i, tk := range ts {
		if tk.Subject == "arrived during the backlog" {
			// The drain fetches at most maxAheadBatches batches ahead of
			// new mail, and a list taken before the append may miss a
			// few commits in flight.
			after := i - len(before)
			t.Logf("new mail was ticket %d of %d, %d after it arrived", i+1, backlog+1, after)
			if after > backlog/10 {
				t.Fatalf("new mail was ticket %d of %d, %d backlog mails after it arrived: it waited for the backlog", i+1, backlog+1, after)
			}
			return
		}
	}
	t.Fatal("new mail not found")
}

// A server that greets and then never answers STARTTLS must not hang the
// connect: the dial runs under the command timeout too.
func TestWatcherSilentStartTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"))
				io.Copy(io.Discard, c)
			}()
		}
	}()
	w := NewWatcher(WatcherConfig{Address: ln.Addr().String(), Security: "starttls", Username: "u", Password: "p",
		Mailbox: "INBOX", Processed: "P", Rejected: "R", Quarantine: "Q", CommandTimeout: 300 * time.Millisecond}, &Pipeline{}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	waitFor(t, "the silent STARTTLS to be given up", func() bool { return w.Status().Reconnects >= 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
