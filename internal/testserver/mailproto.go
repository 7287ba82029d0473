package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"sort"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"
)

// Message is one message read back from an IMAP mailbox.
type Message struct {
	UID uint32
	Raw []byte
	// Flags are the message's flags and keywords as the server keeps them.
	Flags []string
	// Arrived is its INTERNALDATE.
	Arrived time.Time
}

// ioTimeout bounds one read-back or delivery: go-imap has no timeouts of
// its own, and a hung helper should fail the test, not the whole run.
const ioTimeout = 30 * time.Second

// fallbackSender is the envelope sender when a raw mail has no usable From.
const fallbackSender = "sender@testserver.example"

// readMailbox returns every message of mailbox in UID order, or an empty
// slice when the mailbox does not exist. It uses EXAMINE and BODY.PEEK so the
// read-back does not change flags that the code under test looks at.
func readMailbox(addr, user, password, mailbox string) ([]Message, error) {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return nil, fmt.Errorf("IMAP dial %s: %w", addr, err)
	}
	defer c.Close()
	watchdog := time.AfterFunc(ioTimeout, func() { _ = c.Close() })
	defer watchdog.Stop()

	if err := c.Login(user, password).Wait(); err != nil {
		return nil, fmt.Errorf("IMAP LOGIN %q at %s: %w", user, addr, err)
	}
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		if mailboxMissing(c, mailbox, err) {
			return []Message{}, nil
		}
		return nil, fmt.Errorf("IMAP EXAMINE %q as %q at %s: %w", mailbox, user, addr, err)
	}
	msgs := []Message{}
	if sel.NumMessages > 0 {
		if msgs, err = fetchAll(c); err != nil {
			return nil, fmt.Errorf("IMAP FETCH %q as %q at %s: %w", mailbox, user, addr, err)
		}
	}
	_ = c.Logout().Wait()
	return msgs, nil
}

// mailboxMissing tells a missing mailbox from other SELECT failures.
// Dovecot 2.3 answers a missing mailbox with a plain "NO Mailbox doesn't
// exist" (no NONEXISTENT code), so a NO is confirmed with LIST.
func mailboxMissing(c *imapclient.Client, mailbox string, selectErr error) bool {
	var imapErr *imap.Error
	if !errors.As(selectErr, &imapErr) || imapErr.Type != imap.StatusResponseTypeNo {
		return false
	}
	if imapErr.Code == imap.ResponseCodeNonExistent {
		return true
	}
	list, err := c.List("", mailbox, nil).Collect()
	return err == nil && len(list) == 0
}

func fetchAll(c *imapclient.Client) ([]Message, error) {
	cmd := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID:          true,
		Flags:        true,
		InternalDate: true,
		BodySection:  []*imap.FetchItemBodySection{{Peek: true}},
	})
	msgs := []Message{}
	var readErr error
	for {
		data := cmd.Next()
		if data == nil {
			break
		}
		var m Message
		for {
			item := data.Next()
			if item == nil {
				break
			}
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				m.UID = uint32(item.UID)
			case imapclient.FetchItemDataFlags:
				for _, f := range item.Flags {
					m.Flags = append(m.Flags, string(f))
				}
			case imapclient.FetchItemDataInternalDate:
				m.Arrived = item.Time
			case imapclient.FetchItemDataBodySection:
				if item.Literal == nil {
					continue
				}
				raw, err := io.ReadAll(item.Literal)
				if err != nil && readErr == nil {
					readErr = err
				}
				m.Raw = raw
			}
		}
		msgs = append(msgs, m)
	}
	if err := cmd.Close(); err != nil {
		return nil, err
	}
	if readErr != nil {
		return nil, readErr
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].UID < msgs[j].UID })
	return msgs, nil
}

// lmtpDeliver delivers raw to rcpts in one LMTP transaction and fails if any
// recipient is refused (LMTP answers DATA once per recipient).
func lmtpDeliver(addr, from string, rcpts []string, raw []byte) error {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("LMTP dial %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("LMTP LHLO at %s: %w", addr, err)
	}
	if err := c.Mail(from, nil); err != nil {
		return fmt.Errorf("LMTP MAIL FROM:<%s> at %s: %w", from, addr, err)
	}
	for _, rcpt := range rcpts {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return fmt.Errorf("LMTP RCPT TO:<%s> at %s: %w", rcpt, addr, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("LMTP DATA at %s: %w", addr, err)
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("LMTP DATA at %s: %w", addr, err)
	}
	if _, err := w.CloseWithLMTPResponse(); err != nil {
		return fmt.Errorf("LMTP delivery to %v at %s: %w", rcpts, addr, err)
	}
	_ = c.Quit()
	return nil
}

// senderOf returns the address in raw's From header, or a fixed sender when
// there is none, because tests often deliver minimal hand-written mails.
func senderOf(raw []byte) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return fallbackSender
	}
	addr, err := mail.ParseAddress(msg.Header.Get("From"))
	if err != nil {
		return fallbackSender
	}
	return addr.Address
}
