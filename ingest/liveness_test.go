package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/internal/testserver"
)

// A server that goes silent in the middle of an IDLE, frozen (a stopped
// process: nothing is read, nothing answered) or blackholed (everything
// sent is lost), with new connections swallowed too, is noticed by the
// check that ends the IDLE: the session ends with that reason instead of
// idling until the next IDLE renewal. Once the server is back, new mail is
// handled.
func TestWatcherSilentServerDuringIdle(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault func(*testserver.TCPProxy)
	}{{"frozen", (*testserver.TCPProxy).Freeze}, {"blackholed", (*testserver.TCPProxy).Blackhole}} {
		t.Run(tt.name, func(t *testing.T) {
			srv := testserver.MemIMAP(t, testserver.MemIMAPOptions{})
			proxy := testserver.NewTCPProxy(t, srv.Addr)
			w := watchThrough(t, proxy.Addr, srv.User, srv.Password, WatcherConfig{
				CheckInterval: 300 * time.Millisecond, CommandTimeout: time.Second,
			}).w
			srv.Append(t, "INBOX", testMail("jan@acme.example", "before", "before@acme.example"))
			waitFor(t, "the first mail", func() bool { return len(srv.Mailbox(t, "Processed")) == 1 })
			waitFor(t, "idle", func() bool { return w.Status().State == "idle" })
			tt.fault(proxy)
			srv.Append(t, "INBOX", testMail("jan@acme.example", "during", "during@acme.example"))
			waitFor(t, "the silence noticed", func() bool {
				st := w.Status()
				return st.Reconnects >= 1 && strings.Contains(st.LastError, "no answer within")
			})
			if st := w.Status(); st.State == "idle" {
				t.Errorf("status %q while the server is silent", st.State)
			}
			proxy.Restore()
			waitFor(t, "the mail that came during the silence", func() bool { return len(srv.Mailbox(t, "Processed")) == 2 })
		})
	}
}

// A mailbox rebuilt under the session (a new UIDVALIDITY, UIDs from 1),
// which the server does not report to the IDLE: the periodic check finds
// the mail that arrives in it.
func TestWatcherMailboxRebuilt(t *testing.T) {
	dc := testserver.Dovecot(t)
	const user = "desk@desk.example"
	for i := range 3 {
		dc.Deliver(t, user, testMail("jan@acme.example", fmt.Sprintf("before %d", i), fmt.Sprintf("b%d@acme.example", i)))
	}
	wd := watchThrough(t, dc.IMAPAddr, user, dc.Password, WatcherConfig{CheckInterval: 500 * time.Millisecond})
	store, w, logs := wd.store, wd.w, wd.logs
	waitFor(t, "the first mails", func() bool { return len(dc.Mailbox(t, user, "Processed")) == 3 })
	waitFor(t, "idle", func() bool { return w.Status().State == "idle" })
	dc.RebuildInbox(t, user)
	var raws [][]byte
	for i := range 4 {
		raws = append(raws, testMail("jan@acme.example", fmt.Sprintf("after %d", i), fmt.Sprintf("a%d@acme.example", i)))
	}
	dc.DeliverMaildir(t, user, raws)
	waitFor(t, "the mail in the rebuilt mailbox", func() bool { return len(dc.Mailbox(t, user, "Processed")) == 7 })
	if !strings.Contains(logs.String(), "UIDVALIDITY changed") {
		t.Errorf("the log does not say the mailbox changed")
	}
	if ts, err := store.List(context.Background()); err != nil || len(ts) != 7 {
		t.Errorf("%d tickets (%v), want 7", len(ts), err)
	}
}

// A full Redis (maxmemory with noeviction) refuses the commits: the
// watcher keeps its IMAP session, leaves the mail in the inbox, says so
// once (no warnings about bodies the server did not send), and goes on as
// soon as Redis takes writes again.
func TestWatcherRedisFull(t *testing.T) {
	srv := testserver.MemIMAP(t, testserver.MemIMAPOptions{})
	wd := watchThrough(t, srv.Addr, srv.User, srv.Password, WatcherConfig{BatchSize: 3})
	store, w, logs := wd.store, wd.w, wd.logs
	srv.Append(t, "INBOX", testMail("jan@acme.example", "before", "before@acme.example"))
	waitFor(t, "the first mail", func() bool { return len(srv.Mailbox(t, "Processed")) == 1 })
	rdb := redis.NewClient(&redis.Options{Addr: wd.redis.Addr})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		srv.Append(t, "INBOX", testMail("jan@acme.example", fmt.Sprintf("full %d", i), fmt.Sprintf("f%d@acme.example", i)))
	}
	waitFor(t, "the watcher to wait for redis", func() bool { return w.Status().State == "waiting_for_redis" })
	if n := len(srv.Mailbox(t, "INBOX")); n != 20 {
		t.Fatalf("INBOX has %d mails while Redis is full, want all 20 kept", n)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mail after redis recovered", func() bool { return len(srv.Mailbox(t, "Processed")) == 21 })
	if st := w.Status(); st.Reconnects != 0 {
		t.Errorf("the session ended %d times (last error %q) while Redis was full", st.Reconnects, st.LastError)
	}
	if n := strings.Count(logs.String(), "redis refuses to commit"); n != 1 {
		t.Errorf("%d warnings that redis refuses, want 1", n)
	}
	if strings.Contains(logs.String(), "server returned no") {
		t.Errorf("the log blames the server for mail it was not asked for:\n%s", logs.String())
	}
	if ts, err := store.List(ctx); err != nil || len(ts) != 21 {
		t.Errorf("%d tickets (%v), want 21", len(ts), err)
	}
}
