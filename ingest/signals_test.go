package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/ticket"
)

// A notice to a sender address nobody can mail (what the lenient parser
// makes of a broken From line) is not queued, to end as a dead letter: the
// mail is rejected without one, and the reason says why.
func TestPipelineNoNoticeToUndeliverableSender(t *testing.T) {
	p, _, rdb := newPipeline(t, []config.Customer{{ID: "acme", Contacts: []config.Contact{{Email: "jan@acme.example"}}}})
	outboxKey := config.KeyPrefix("d") + "outbox"
	ctx := context.Background()
	for i, from := range []string{"<<<>>> ,,,", ",,,", "nobody", "Jan <jan@>"} {
		raw := "From: " + from + "\nTo: desk@desk.example\nSubject: help\nMessage-ID: <broken-from-" + string(rune('a'+i)) + "@t>\n\nbody\n"
		res, err := p.Process(ctx, strings.NewReader(raw), ticket.Source{Mailbox: "INBOX", UID: uint32(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != Rejected || res.Notified || !strings.Contains(res.Reason, "no notice: sender address not deliverable") {
			t.Errorf("From: %s: outcome %v, notified %v, reason %q; want rejected without a notice, saying why", from, res.Outcome, res.Notified, res.Reason)
		}
	}
	if n, _ := rdb.XLen(ctx, outboxKey).Result(); n != 0 {
		t.Errorf("%d notifications queued for senders without an address", n)
	}
}

// outcomes is an Observer that keeps every outcome.
type outcomes struct {
	mu  sync.Mutex
	all []Result
}

func (o *outcomes) Observe(r Result, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all = append(o.all, r)
}
func (o *outcomes) Reconnected() {}

func (o *outcomes) count(out Outcome) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, r := range o.all {
		if r.Outcome == out {
			n++
		}
	}
	return n
}

// watched is a watcher run by watchThrough, with what it works with.
type watched struct {
	store *ticket.Store
	redis *testserver.RedisServer
	w     *Watcher
	obs   *outcomes
	logs  *testserver.Buffer
}

// watchThrough runs a watcher of user's INBOX at addr (the server, or a
// proxy in front of it) until the test ends, with a real Redis store.
func watchThrough(t *testing.T, addr, user, password string, cfg WatcherConfig) watched {
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
	cfg.Address, cfg.Security, cfg.Username, cfg.Password = addr, "none", user, password
	cfg.Mailbox, cfg.Processed, cfg.Rejected, cfg.Quarantine = "INBOX", "Processed", "Rejected", "Quarantine"
	if cfg.CommandTimeout == 0 {
		cfg.CommandTimeout = 5 * time.Second
	}
	w := NewWatcher(cfg, pipe, log)
	w.Checkpoints = store
	obs := &outcomes{}
	w.Observer = obs
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
	return watched{store: store, redis: rs, w: w, obs: obs, logs: logs}
}

// A connection cut in the middle of a mail's body is no broken mail: the
// mail is not quarantined (no ERROR, no quarantined outcome for the alert
// to count) nor made a ticket from what arrived; it stays in the inbox and
// is read whole over the next connection. Both ways a body is read: a
// small one into memory, a large one parsed straight off the connection.
func TestWatcherConnectionCutInsideLiteral(t *testing.T) {
	for _, tt := range []struct {
		name string
		size int
	}{{"small mail read into memory", 0}, {"large mail parsed off the connection", 2 << 20}} {
		t.Run(tt.name, func(t *testing.T) {
			srv := testserver.MemIMAP(t, testserver.MemIMAPOptions{})
			text := "the whole text " + strings.Repeat("of the mail ", tt.size/12) + "ends here"
			srv.Append(t, "INBOX", []byte(strings.ReplaceAll("From: jan@acme.example\nTo: desk@desk.example\nSubject: cut\nMessage-ID: <cut@acme.example>\n\n", "\n", "\r\n")+text+"\r\n"))
			proxy := testserver.NewTCPProxy(t, srv.Addr)
			// 40 bytes into the literal, past its "{size}\r\n".
			proxy.CutServer([]byte("BODY[] {"), 40)
			wd := watchThrough(t, proxy.Addr, srv.User, srv.Password, WatcherConfig{})
			store, w, obs, logs := wd.store, wd.w, wd.obs, wd.logs
			waitFor(t, "the mail filed after the cut", func() bool { return len(srv.Mailbox(t, "Processed")) == 1 })
			if w.Status().Reconnects == 0 {
				t.Fatal("the connection was not cut")
			}
			if n := obs.count(Quarantined); n != 0 || strings.Contains(logs.String(), "mail quarantined") {
				t.Errorf("%d quarantined outcomes observed, log says quarantined: %v; the mail was never quarantined", n, strings.Contains(logs.String(), "mail quarantined"))
			}
			if !strings.Contains(logs.String(), "mail not read whole") {
				t.Errorf("the log does not say the mail was not read whole")
			}
			if q := srv.Mailbox(t, "Quarantine"); len(q) != 0 {
				t.Errorf("Quarantine holds %d mails", len(q))
			}
			ts, err := store.List(context.Background())
			if err != nil || len(ts) != 1 {
				var made []string
				for _, tk := range ts {
					made = append(made, fmt.Sprintf("%s (subject %q, Message-ID %q)", tk.Number, tk.Subject, tk.MessageID))
				}
				t.Fatalf("tickets %v %v, want one", made, err)
			}
			tk, err := store.Get(context.Background(), ts[0].Number)
			if err != nil {
				t.Fatal(err)
			}
			// The text may be capped (large), but not cut after 40 bytes.
			if !strings.HasPrefix(tk.Text, "the whole text") || len(tk.Text) < min(len(text), 1000) {
				t.Errorf("ticket text is %d of %d bytes: made from a cut mail", len(tk.Text), len(text))
			}
		})
	}
}
