package demo

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// imapServer is go-imap's in-memory server holding one account per address,
// each with the password "demo".
type imapServer struct {
	mem *imapmemserver.Server
	srv *imapserver.Server
	ln  net.Listener
	// closed silences the error Serve returns when closed before it began.
	closed atomic.Bool

	mu    sync.Mutex
	users map[string]*imapmemserver.User // by lower-case address
}

func newIMAPServer(ln net.Listener, log *slog.Logger) *imapServer {
	s := &imapServer{mem: imapmemserver.New(), ln: ln, users: map[string]*imapmemserver.User{}}
	s.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &session{Session: s.mem.NewSession()}, nil, nil
		},
		// What the daemon uses on a real server: IDLE to hear of new mail
		// at once, MOVE and UIDPLUS to file it away.
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}, imap.CapMove: {}, imap.CapUIDPlus: {}},
		InsecureAuth: true,
		Logger:       printfLogger{log},
	})
	go func() {
		if err := s.srv.Serve(ln); err != nil && !s.closed.Load() {
			log.Warn("IMAP server stopped", "err", err)
		}
	}()
	return s
}

func (s *imapServer) close() {
	s.closed.Store(true)
	_ = s.srv.Close()
	// Close only closes listeners that Serve has registered; this one may
	// not be yet if the demo stops right after starting.
	_ = s.ln.Close()
}

// ensureUser returns the account of addr, created with an INBOX if new.
func (s *imapServer) ensureUser(addr string) error {
	_, err := s.user(addr)
	return err
}

func (s *imapServer) user(addr string) (*imapmemserver.User, error) {
	name := strings.ToLower(addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[name]; u != nil {
		return u, nil
	}
	u := imapmemserver.NewUser(name, Password)
	if err := u.Create("INBOX", nil); err != nil {
		return nil, fmt.Errorf("creating the INBOX of %s: %w", name, err)
	}
	s.mem.AddUser(u)
	s.users[name] = u
	return u, nil
}

// deliver appends raw to the INBOX of addr, creating the account if needed.
// Sessions idling on that INBOX are told at once.
func (s *imapServer) deliver(addr string, raw []byte) error {
	u, err := s.user(addr)
	if err != nil {
		return err
	}
	opts := &imap.AppendOptions{Time: time.Now()}
	_, err = u.Append("INBOX", bytes.NewReader(raw), opts)
	var imapErr *imap.Error
	if errors.As(err, &imapErr) && imapErr.Code == imap.ResponseCodeTryCreate {
		// The user deleted their INBOX over IMAP; a real server recreates it.
		if err := u.Create("INBOX", nil); err != nil {
			return fmt.Errorf("recreating the INBOX of %s: %w", addr, err)
		}
		_, err = u.Append("INBOX", bytes.NewReader(raw), opts)
	}
	if err != nil {
		return fmt.Errorf("appending to the INBOX of %s: %w", addr, err)
	}
	return nil
}

// session makes logins case-insensitive, as mail addresses are in practice.
type session struct {
	imapserver.Session
}

func (s *session) Login(username, password string) error {
	return s.Session.Login(strings.ToLower(username), password)
}

// Move is re-exposed because the server finds MOVE support by a type
// assertion on the session, which the embedding interface field hides.
func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	return s.Session.(imapserver.SessionMove).Move(w, numSet, dest)
}

// printfLogger turns the servers' Printf logging into slog warnings.
type printfLogger struct{ log *slog.Logger }

func (l printfLogger) Printf(format string, v ...any) {
	l.log.Warn(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (l printfLogger) Println(v ...any) {
	l.log.Warn(strings.TrimSpace(fmt.Sprintln(v...)))
}
