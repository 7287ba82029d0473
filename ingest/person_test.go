package ingest

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildesk/maildesk/internal/testserver"
)

// A person working in the inbox deletes one mail and moves another away
// after the watcher fetched them and before it files them: Dovecot refuses
// the whole MOVE with NO [EXPUNGEISSUED]. The watcher files what is still
// there and keeps its session.
func TestWatcherPersonRemovesMailBeforeMove(t *testing.T) {
	dc := testserver.Dovecot(t)
	const user = "desk@desk.example"
	for i := 1; i <= 5; i++ {
		dc.Deliver(t, user, testMail("jan@acme.example", fmt.Sprintf("mail %d", i), fmt.Sprintf("m%d@acme.example", i)))
	}
	person, err := imapclient.DialInsecure(dc.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer person.Close()
	if err := person.Login(user, dc.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	// Processed too, so that the test can look into it before the
	// watcher's first move (which would otherwise create it).
	for _, f := range []string{"Manual", "Processed"} {
		if err := person.Create(f, nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := person.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	proxy := testserver.NewTCPProxy(t, dc.IMAPAddr)
	var acted atomic.Bool
	var actErr atomic.Value
	proxy.OnClient(func(chunk []byte) {
		if !bytes.Contains(chunk, []byte(" MOVE ")) || !acted.CompareAndSwap(false, true) {
			return
		}
		// Between the watcher's MOVE and the server reading it.
		if err := person.Store(imap.UIDSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			actErr.Store(err)
		}
		if err := person.UIDExpunge(imap.UIDSetNum(2)).Close(); err != nil {
			actErr.Store(err)
		}
		if _, err := person.Move(imap.UIDSetNum(3), "Manual").Wait(); err != nil {
			actErr.Store(err)
		}
	})
	wd := watchThrough(t, proxy.Addr, user, dc.Password, WatcherConfig{})
	store, w, logs := wd.store, wd.w, wd.logs
	waitFor(t, "the rest filed", func() bool { return len(dc.Mailbox(t, user, "Processed")) == 3 })
	if err := actErr.Load(); err != nil {
		t.Fatalf("the person's work failed: %v", err)
	}
	if !acted.Load() {
		t.Fatal("the watcher moved nothing")
	}
	if n := len(dc.Mailbox(t, user, "INBOX")); n != 0 {
		t.Errorf("INBOX keeps %d mails", n)
	}
	if n := len(dc.Mailbox(t, user, "Manual")); n != 1 {
		t.Errorf("Manual holds %d mails, want the one the person moved", n)
	}
	if st := w.Status(); st.Reconnects != 0 {
		t.Errorf("the session ended %d times (last error %q): a person's work must not end it", st.Reconnects, st.LastError)
	}
	if !bytes.Contains([]byte(logs.String()), []byte("someone else removed mail")) {
		t.Errorf("the log does not say why the move was repeated")
	}
	ts, err := store.List(context.Background())
	if err != nil || len(ts) != 5 {
		t.Fatalf("%d tickets (%v), want 5: all were committed before the move", len(ts), err)
	}
	waitFor(t, "nothing waiting", func() bool { return w.Status().Waiting == 0 })
}
