package testserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func testMail(from, to, subject string) []byte {
	return []byte("From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@test.example>\r\n\r\nHello " + subject + ".\r\n")
}

// redisCmd sends one inline command and returns the first reply line.
func redisCmd(t *testing.T, addr, cmd string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial redis: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(cmd + "\r\n")); err != nil {
		t.Fatalf("write %q: %v", cmd, err)
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read reply to %q: %v", cmd, err)
	}
	if strings.HasPrefix(line, "$") && line != "$-1\r\n" {
		if line, err = r.ReadString('\n'); err != nil {
			t.Fatalf("read bulk reply to %q: %v", cmd, err)
		}
	}
	return strings.TrimSpace(line)
}

func TestRedis(t *testing.T) {
	t.Parallel()
	s := Redis(t)
	if got := redisCmd(t, s.Addr, "PING"); got != "PONG" && got != "+PONG" {
		t.Fatalf("PING = %q", got)
	}
	if want := "redis://" + s.Addr + "/0"; s.URL != want {
		t.Errorf("URL = %q, want %q", s.URL, want)
	}
	s.Stop()
	s.Stop() // idempotent
	if conn, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("redis still accepts connections after Stop")
	}
}

func TestRedisRestartKeepsAppendOnlyData(t *testing.T) {
	t.Parallel()
	s := RedisWithOptions(t, RedisOptions{AppendOnly: true})
	addr := s.Addr
	if got := redisCmd(t, s.Addr, "SET greeting hello"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	s.Restart(t)
	if s.Addr != addr {
		t.Fatalf("Addr changed on restart: %s -> %s", addr, s.Addr)
	}
	if got := redisCmd(t, s.Addr, "GET greeting"); got != "hello" {
		t.Fatalf("GET after restart = %q, want hello", got)
	}
}

func TestRedisWithoutPersistenceLosesDataOnRestart(t *testing.T) {
	t.Parallel()
	s := Redis(t)
	redisCmd(t, s.Addr, "SET greeting hello")
	s.Restart(t)
	if got := redisCmd(t, s.Addr, "GET greeting"); got != "$-1" {
		t.Fatalf("GET after restart = %q, want nil", got)
	}
}

func TestDovecotDeliverAndRead(t *testing.T) {
	t.Parallel()
	d := Dovecot(t)
	raw := testMail("Alice <alice@customer.example>", "desk@desk.example", "printer on fire")
	d.Deliver(t, "desk@desk.example", raw)
	d.Deliver(t, "desk@desk.example", testMail("bob@customer.example", "desk@desk.example", "second"))

	msgs := d.Mailbox(t, "desk@desk.example", "INBOX")
	if len(msgs) != 2 {
		t.Fatalf("INBOX has %d messages, want 2", len(msgs))
	}
	if msgs[0].UID == 0 || msgs[1].UID <= msgs[0].UID {
		t.Errorf("UIDs not ascending: %d, %d", msgs[0].UID, msgs[1].UID)
	}
	if !bytes.Contains(msgs[0].Raw, []byte("Subject: printer on fire")) ||
		!bytes.Contains(msgs[0].Raw, []byte("Hello printer on fire.")) {
		t.Errorf("first message lacks subject/body:\n%s", msgs[0].Raw)
	}
	// LMTP adds Return-Path from MAIL FROM, which Deliver takes from From.
	if !bytes.Contains(msgs[0].Raw, []byte("Return-Path: <alice@customer.example>")) {
		t.Errorf("envelope sender not taken from From:\n%s", msgs[0].Raw)
	}

	if got := d.Mailbox(t, "desk@desk.example", "NoSuchFolder"); got == nil || len(got) != 0 {
		t.Errorf("missing mailbox = %#v, want empty slice", got)
	}
	if got := d.Mailbox(t, "nobody@desk.example", "INBOX"); len(got) != 0 {
		t.Errorf("other user's INBOX has %d messages", len(got))
	}
	if got := d.Mailbox(t, "desk@desk.example", "Trash"); len(got) != 0 {
		t.Errorf("Trash has %d messages", len(got))
	}
}

func sendSMTP(addr, from string, to []string, raw []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail(from, to, bytes.NewReader(raw)); err != nil {
		return err
	}
	return c.Quit()
}

func TestSMTPRecords(t *testing.T) {
	t.Parallel()
	s := SMTP(t)
	raw := testMail("desk@desk.example", "alice@customer.example", "ack 1")
	if err := sendSMTP(s.Addr, "desk@desk.example", []string{"alice@customer.example", "bob@customer.example"}, raw); err != nil {
		t.Fatalf("send: %v", err)
	}

	// AUTH PLAIN over plaintext, as the notifier does against a relay.
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "relayuser", "pw")); err != nil {
		t.Fatalf("AUTH PLAIN: %v", err)
	}
	if err := c.SendMail("desk@desk.example", []string{"carol@customer.example"}, bytes.NewReader(testMail("desk@desk.example", "carol@customer.example", "ack 2"))); err != nil {
		t.Fatalf("send with auth: %v", err)
	}
	_ = c.Quit()

	got := s.WaitFor(t, 2, 5*time.Second)
	if len(got) != 2 {
		t.Fatalf("got %d messages", len(got))
	}
	if got[0].From != "desk@desk.example" || strings.Join(got[0].To, ",") != "alice@customer.example,bob@customer.example" {
		t.Errorf("envelope = %q -> %q", got[0].From, got[0].To)
	}
	if !bytes.Equal(got[0].Data, raw) {
		t.Errorf("data = %q, want %q", got[0].Data, raw)
	}
	if got[1].AuthUser != "relayuser" || got[0].AuthUser != "" {
		t.Errorf("AuthUser = %q, %q", got[0].AuthUser, got[1].AuthUser)
	}
	if n := len(s.Messages()); n != 2 {
		t.Errorf("Messages() has %d", n)
	}
}

func TestSMTPWaitForBlocksUntilMessage(t *testing.T) {
	t.Parallel()
	s := SMTP(t)
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = sendSMTP(s.Addr, "a@x.example", []string{"b@x.example"}, testMail("a@x.example", "b@x.example", "late"))
	}()
	if got := s.WaitFor(t, 1, 10*time.Second); len(got) != 1 {
		t.Fatalf("got %d", len(got))
	}
}

func TestSMTPSetReply(t *testing.T) {
	t.Parallel()
	s := SMTP(t)
	s.SetReply(func(rcpt string) error {
		switch rcpt {
		case "busy@customer.example":
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		case "gone@customer.example":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	})
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("desk@desk.example", nil); err != nil {
		t.Fatal(err)
	}
	for rcpt, code := range map[string]int{"busy@customer.example": 451, "gone@customer.example": 550} {
		var smtpErr *smtp.SMTPError
		if err := c.Rcpt(rcpt, nil); !errors.As(err, &smtpErr) || smtpErr.Code != code {
			t.Errorf("RCPT %s: err = %v, want code %d", rcpt, err, code)
		}
	}
	if err := c.Rcpt("ok@customer.example", nil); err != nil {
		t.Fatalf("RCPT ok: %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(testMail("desk@desk.example", "ok@customer.example", "partial")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := s.WaitFor(t, 1, 5*time.Second)
	if strings.Join(got[0].To, ",") != "ok@customer.example" {
		t.Errorf("To = %q, want only the accepted recipient", got[0].To)
	}
}

// A relay that queues the message and loses its reply: it has the
// message, the client gets no answer to the end of DATA.
func TestSMTPSilentAfterData(t *testing.T) {
	t.Parallel()
	s := SMTP(t)
	s.SetSilentAfterData(func(rcpts []string) bool { return slices.Contains(rcpts, "stuck@customer.example") })
	// Others are answered as usual.
	if err := sendSMTP(s.Addr, "desk@desk.example", []string{"ok@customer.example"}, testMail("desk@desk.example", "ok@customer.example", "one")); err != nil {
		t.Fatalf("send to another recipient: %v", err)
	}
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("desk@desk.example", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("stuck@customer.example", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(testMail("desk@desk.example", "stuck@customer.example", "two")); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- w.Close() }()
	if got := s.WaitFor(t, 2, 5*time.Second); strings.Join(got[1].To, ",") != "stuck@customer.example" {
		t.Fatalf("recorded %+v", got)
	}
	select {
	case err := <-closed:
		t.Fatalf("end of DATA answered: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	s.Stop()
	if err := <-closed; err == nil {
		t.Error("the end of DATA succeeded after the server stopped")
	}
}

func TestSMTPForwardToDovecot(t *testing.T) {
	t.Parallel()
	d := Dovecot(t)
	s := SMTP(t)
	s.ForwardTo(d)
	raw := testMail("desk@desk.example", "alice@customer.example", "your ticket 42")
	if err := sendSMTP(s.Addr, "desk@desk.example", []string{"alice@customer.example"}, raw); err != nil {
		t.Fatalf("send: %v", err)
	}
	s.WaitFor(t, 1, 5*time.Second)
	msgs := d.Mailbox(t, "alice@customer.example", "INBOX")
	if len(msgs) != 1 || !bytes.Contains(msgs[0].Raw, []byte("Subject: your ticket 42")) {
		t.Fatalf("alice's INBOX = %d messages: %+v", len(msgs), msgs)
	}
}

func TestMemIMAPAppendAndRead(t *testing.T) {
	t.Parallel()
	s := MemIMAP(t, MemIMAPOptions{})
	if s.User != "desk@desk.example" || s.Password != "secret" {
		t.Fatalf("credentials = %q/%q", s.User, s.Password)
	}
	uid1 := s.Append(t, "INBOX", testMail("alice@customer.example", "desk@desk.example", "one"))
	uid2 := s.Append(t, "INBOX", testMail("bob@customer.example", "desk@desk.example", "two"))
	if uid1 == 0 || uid2 <= uid1 {
		t.Fatalf("UIDs = %d, %d", uid1, uid2)
	}
	msgs := s.Mailbox(t, "INBOX")
	if len(msgs) != 2 || msgs[0].UID != uid1 || msgs[1].UID != uid2 {
		t.Fatalf("INBOX = %+v", msgs)
	}
	if !bytes.Contains(msgs[1].Raw, []byte("Subject: two")) {
		t.Errorf("second message = %q", msgs[1].Raw)
	}
	s.Append(t, "Archive", testMail("c@x.example", "desk@desk.example", "archived"))
	if got := s.Mailbox(t, "Archive"); len(got) != 1 {
		t.Errorf("Archive has %d messages", len(got))
	}
	if got := s.Mailbox(t, "Nope"); got == nil || len(got) != 0 {
		t.Errorf("missing mailbox = %#v", got)
	}

	c := loginMem(t, s)
	for _, cp := range []imap.Cap{imap.CapIdle, imap.CapMove, imap.CapUIDPlus} {
		if !c.Caps().Has(cp) {
			t.Errorf("default caps lack %s: %v", cp, c.Caps())
		}
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(imap.UIDSetNum(imap.UID(uid1)), "Archive").Wait(); err != nil {
		t.Fatalf("MOVE: %v", err)
	}
	if got := s.Mailbox(t, "Archive"); len(got) != 2 {
		t.Errorf("Archive has %d messages after MOVE", len(got))
	}
}

func loginMem(t *testing.T, s *MemIMAPServer) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(s.User, s.Password).Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

func TestMemIMAPWithoutMoveUIDPlusIdle(t *testing.T) {
	t.Parallel()
	s := MemIMAP(t, MemIMAPOptions{User: "support@desk.example", Caps: imap.CapSet{imap.CapIMAP4rev1: {}}})
	// A body line that looks like a capability response must pass unchanged.
	body := []byte("Subject: caps\r\n\r\n* CAPABILITY IMAP4rev1 IDLE\r\n")
	uid := s.Append(t, "INBOX", body)

	c := loginMem(t, s)
	for _, cp := range []imap.Cap{imap.CapIdle, imap.CapMove, imap.CapUIDPlus} {
		if c.Caps().Has(cp) {
			t.Errorf("caps advertise %s: %v", cp, c.Caps())
		}
	}
	if !c.Caps().Has(imap.CapIMAP4rev1) {
		t.Errorf("caps lack IMAP4rev1: %v", c.Caps())
	}
	appendCmd := c.Append("INBOX", int64(len(body)), nil)
	if _, err := appendCmd.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := appendCmd.Close(); err != nil {
		t.Fatal(err)
	}
	if data, err := appendCmd.Wait(); err != nil {
		t.Fatalf("APPEND: %v", err)
	} else if data.UID != 0 {
		t.Errorf("APPENDUID sent without UIDPLUS: %+v", data)
	}

	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// imapclient would emulate MOVE with COPY + EXPUNGE: talk raw IMAP.
	replies := rawIMAP(t, s.Addr,
		fmt.Sprintf("LOGIN %s %s", s.User, s.Password),
		"SELECT INBOX",
		fmt.Sprintf("UID MOVE %d Archive", uid),
		fmt.Sprintf("UID EXPUNGE %d", uid),
		"IDLE")
	for i, want := range []string{"OK", "OK", "BAD", "BAD", "BAD"} {
		if !strings.HasPrefix(replies[i], want) {
			t.Errorf("reply %d = %q, want %s", i, replies[i], want)
		}
	}
	msgs := s.Mailbox(t, "INBOX")
	if len(msgs) == 0 || !bytes.Equal(msgs[0].Raw, body) {
		t.Fatalf("INBOX = %+v, want first message %q unchanged", msgs, body)
	}
}

// rawIMAP runs commands one by one and returns each tagged reply without
// the tag. IDLE is answered with DONE as soon as the server continues.
func rawIMAP(t *testing.T, addr string, cmds ...string) []string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	var replies []string
	for i, cmd := range cmds {
		tag := fmt.Sprintf("t%d", i)
		fmt.Fprintf(conn, "%s %s\r\n", tag, cmd)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			if strings.HasPrefix(line, "+") {
				fmt.Fprintf(conn, "DONE\r\n")
			}
			if rest, ok := strings.CutPrefix(line, tag+" "); ok {
				replies = append(replies, strings.TrimSpace(rest))
				break
			}
		}
	}
	return replies
}

func TestFileTail(t *testing.T) {
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	path := t.TempDir() + "/log"
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := fileTail(path, 3)
	if err != nil || got != "line 97\nline 98\nline 99" {
		t.Fatalf("fileTail = %q, %v", got, err)
	}
}
