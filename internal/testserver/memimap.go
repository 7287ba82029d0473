package testserver

import (
	"bytes"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// MemIMAPOptions configures MemIMAP.
type MemIMAPOptions struct {
	// User is the only account; default "desk@desk.example".
	User string
	// Caps is what the server offers; nil means IMAP4rev1 + IDLE + MOVE +
	// UIDPLUS. Leaving out MOVE, UIDPLUS or IDLE simulates an older server:
	// the capability is not advertised, MOVE and UID EXPUNGE are refused,
	// APPENDUID/COPYUID response codes are not sent, and IDLE fails.
	Caps imap.CapSet
}

// MemIMAPServer is go-imap's in-memory IMAP server on a loopback port,
// without TLS. It is fast but less faithful than Dovecot (e.g. a single-UID
// MOVE emits two EXPUNGEs): assert on UIDs, not on counts of responses.
type MemIMAPServer struct {
	Addr     string
	User     string
	Password string // "secret"

	user   *imapmemserver.User
	srv    *imapserver.Server
	logger *tbLogger
	once   sync.Once
}

// MemIMAP starts the in-memory IMAP server with one user and an INBOX.
func MemIMAP(t testing.TB, opts MemIMAPOptions) *MemIMAPServer {
	t.Helper()
	if opts.User == "" {
		opts.User = "desk@desk.example"
	}
	caps := opts.Caps
	if caps == nil {
		caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}, imap.CapMove: {}, imap.CapUIDPlus: {}}
	}
	s := &MemIMAPServer{
		User:     opts.User,
		Password: "secret",
		user:     imapmemserver.NewUser(opts.User, "secret"),
		logger:   newTBLogger(t, "memimap server: "),
	}
	if err := s.user.Create("INBOX", nil); err != nil {
		t.Fatalf("testserver: memimap: create INBOX: %v", err)
	}
	mem := imapmemserver.New()
	mem.AddUser(s.user)

	move, idle, uidPlus := caps.Has(imap.CapMove), caps.Has(imap.CapIdle), caps.Has(imap.CapUIDPlus)
	s.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			base := &limitedSession{Session: mem.NewSession(), idle: idle, uidPlus: uidPlus}
			// The server checks for MOVE support by type assertion, so
			// only a session type without a Move method makes it refuse MOVE.
			if move {
				return &moveSession{base}, nil, nil
			}
			return base, nil, nil
		},
		Caps:         caps,
		InsecureAuth: true,
		Logger:       s.logger,
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: memimap: listen: %v", err)
	}
	s.Addr = ln.Addr().String()
	var drop []string
	if !idle {
		drop = append(drop, string(imap.CapIdle))
	}
	if !idle || !uidPlus {
		ln = &capFilterListener{Listener: ln, dropCaps: drop, dropUIDCodes: !uidPlus}
	}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(s.Stop)
	return s
}

// Stop closes the server and all connections.
func (s *MemIMAPServer) Stop() {
	s.once.Do(func() {
		_ = s.srv.Close()
		s.logger.close()
	})
}

// CreateMailbox creates a mailbox of the user (nothing if it exists).
func (s *MemIMAPServer) CreateMailbox(t testing.TB, mailbox string) {
	t.Helper()
	if _, err := s.user.Status(mailbox, &imap.StatusOptions{}); err == nil {
		return
	}
	if err := s.user.Create(mailbox, nil); err != nil {
		t.Fatalf("testserver: memimap: create %q: %v", mailbox, err)
	}
}

// Append stores raw in mailbox (created if missing) directly in the
// backend, as a delivery would, and returns the new UID.
func (s *MemIMAPServer) Append(t testing.TB, mailbox string, raw []byte) uint32 {
	t.Helper()
	s.CreateMailbox(t, mailbox)
	data, err := s.user.Append(mailbox, bytes.NewReader(raw), &imap.AppendOptions{Time: time.Now()})
	if err != nil {
		t.Fatalf("testserver: memimap: append to %q: %v", mailbox, err)
	}
	return uint32(data.UID)
}

// Mailbox returns all messages of mailbox, read over IMAP; empty when the
// mailbox does not exist.
func (s *MemIMAPServer) Mailbox(t testing.TB, mailbox string) []Message {
	t.Helper()
	msgs, err := readMailbox(s.Addr, s.User, s.Password, mailbox)
	if err != nil {
		t.Fatalf("testserver: memimap mailbox: %v", err)
	}
	return msgs
}

var errNotSupported = &imap.Error{
	Type: imap.StatusResponseTypeBad,
	Text: "command not supported by this server",
}

// limitedSession refuses the commands of capabilities left out of Caps.
type limitedSession struct {
	imapserver.Session
	idle, uidPlus bool
}

func (s *limitedSession) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	if uids != nil && !s.uidPlus {
		return errNotSupported // UID EXPUNGE is part of UIDPLUS
	}
	return s.Session.Expunge(w, uids)
}

func (s *limitedSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if !s.idle {
		// imapserver has already sent "+ idling": the client sees the
		// error only after DONE. Clients must check Caps() first anyway.
		return errNotSupported
	}
	return s.Session.Idle(w, stop)
}

// Namespace is always offered: Dovecot has it too, and it is required when
// Caps contains IMAP4rev2.
func (s *limitedSession) Namespace() (*imap.NamespaceData, error) {
	return s.Session.(imapserver.SessionNamespace).Namespace()
}

type moveSession struct{ *limitedSession }

func (s *moveSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	return s.Session.(imapserver.SessionMove).Move(w, numSet, dest)
}

// capFilterListener rewrites server output, because imapserver always
// advertises IDLE for IMAP4rev1 and always sends APPENDUID/COPYUID codes.
type capFilterListener struct {
	net.Listener
	dropCaps     []string
	dropUIDCodes bool
}

func (l *capFilterListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &capFilterConn{Conn: c, l: l, atStart: true}, nil
}

// capFilterConn edits whole response lines; it passes literals (message
// bodies) through untouched so mail content is never rewritten.
type capFilterConn struct {
	net.Conn
	l *capFilterListener

	mu      sync.Mutex
	pending []byte // incomplete line
	literal int64  // literal bytes still to pass through
	atStart bool   // pending begins a new response
}

var (
	literalSuffix = regexp.MustCompile(`\{(\d+)[+-]?\}\r?\n$`)
	uidCode       = regexp.MustCompile(`^(\S+ (?:OK|NO|BAD) )\[(?:APPENDUID|COPYUID) [^\]]*\] ?`)
)

func (c *capFilterConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []byte
	data := append(c.pending, p...)
	c.pending = nil
	for len(data) > 0 {
		if c.literal > 0 {
			n := min(c.literal, int64(len(data)))
			out = append(out, data[:n]...)
			data = data[n:]
			c.literal -= n
			continue
		}
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			c.pending = append([]byte(nil), data...)
			break
		}
		line := string(data[:i+1])
		data = data[i+1:]
		if c.atStart {
			line = c.rewrite(line)
		}
		c.atStart = true
		if m := literalSuffix.FindStringSubmatch(line); m != nil {
			c.literal, _ = strconv.ParseInt(m[1], 10, 64)
			// The response goes on after the literal.
			c.atStart = false
		}
		out = append(out, line...)
	}
	if len(out) > 0 {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (c *capFilterConn) rewrite(line string) string {
	if c.l.dropUIDCodes {
		line = uidCode.ReplaceAllString(line, "$1")
	}
	start, end := -1, -1
	if rest, ok := strings.CutPrefix(line, "* CAPABILITY "); ok {
		start, end = len(line)-len(rest), len(strings.TrimRight(line, "\r\n"))
	} else if i := strings.Index(line, "[CAPABILITY "); i >= 0 {
		start = i + len("[CAPABILITY ")
		if j := strings.IndexByte(line[start:], ']'); j >= 0 {
			end = start + j
		}
	}
	if start < 0 || end < start {
		return line
	}
	caps := strings.Fields(line[start:end])
	kept := caps[:0]
	for _, cp := range caps {
		if !containsFold(c.l.dropCaps, cp) {
			kept = append(kept, cp)
		}
	}
	return line[:start] + strings.Join(kept, " ") + line[end:]
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
