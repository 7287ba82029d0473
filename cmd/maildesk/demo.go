package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/demo"
	"github.com/maildesk/maildesk/sla"
)

// demoDesk is the desk address of the embedded demo config.
const demoDesk = "servicedesk@demo.example"

var demoCommand = &command{name: "demo", flags: "[--imap-port 1143] [--smtp-port 2525] [--redis URL] [--http 127.0.0.1:8080]\n[--speed 1]",
	summary: "run maildesk on embedded IMAP, SMTP and Redis (Ctrl-C stops)", run: cmdDemo,
	subs: []*command{{name: "send", flags: "--from ADDR --subject TEXT [--body TEXT] [--to ADDR] [--smtp HOST:PORT]",
		summary: "send one mail to a running demo",
		run: func(ctx context.Context, args []string, stdout, _ io.Writer) error {
			return cmdDemoSend(ctx, args, stdout)
		}}},
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	imapPort := fs.Int("imap-port", demo.DefaultIMAPPort, "IMAP port on 127.0.0.1; 0 = any free port")
	smtpPort := fs.Int("smtp-port", demo.DefaultSMTPPort, "SMTP port on 127.0.0.1; 0 = any free port")
	redisURL := fs.String("redis", "", "a real Redis (redis://...); default an embedded in-memory one")
	httpListen := fs.String("http", demo.DefaultHTTPListen, `dashboard, API and health listener; "" turns it off`)
	speed := fs.Float64("speed", 1, "run the SLA clock this many times faster (e.g. 60: an hour a minute)")
	if err := fs.Parse(args); err != nil {
		return flagError(fs, err)
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: demo takes no arguments (did you mean demo send?)", errUsage)
	}
	if *speed < 1 || *speed > 1e6 {
		return fmt.Errorf("%w: demo --speed must be from 1 to 1000000 (got %g)", errUsage, *speed)
	}
	opts := demo.Options{IMAPPort: *imapPort, SMTPPort: *smtpPort, RedisURL: *redisURL, HTTPListen: *httpListen}
	return runDemo(ctx, opts, *speed, stdout, stderr, nil)
}

// demoClock runs speed times faster than real time. Sped up, it starts at
// the next opening of the demo's office hours, so that the clock has
// business time to count at any hour the demo is tried.
func demoClock(cfg *config.Config, speed float64) (func() time.Time, error) {
	if speed <= 1 {
		return time.Now, nil
	}
	cal, err := sla.NewCalendar("kantoor", cfg.Calendars["kantoor"])
	if err != nil {
		return nil, fmt.Errorf("demo calendar: %w", err)
	}
	t0 := time.Now()
	v0 := cal.NextOpen(t0)
	return func() time.Time {
		return v0.Add(time.Duration(float64(time.Since(t0)) * speed))
	}, nil
}

// runDemo starts the embedded servers, tells the user what to do, and runs
// the real daemon on them until ctx ends. started, if not nil, is called
// once everything is up (for tests).
func runDemo(ctx context.Context, opts demo.Options, speed float64, stdout, stderr io.Writer, started func(*demo.Demo)) error {
	// The demo config asks for the same; the servers need the logger before
	// that config exists.
	log := newLogger(config.Log{Level: "info", Format: "text"}, stderr)
	opts.Log = log
	d, err := demo.Start(opts)
	if err != nil {
		return err
	}
	defer d.Close()
	if d.HTTPBusy != "" {
		log.Warn("HTTP address in use, health endpoints moved", "wanted", d.HTTPBusy, "using", d.HTTPListen)
	}
	now, err := demoClock(d.Config, speed)
	if err != nil {
		return err
	}
	printDemoBanner(stdout, d, speed, now())
	if started != nil {
		started(d)
	}
	if err := runDaemonAt(ctx, d.Config, log, now); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "maildesk demo stopped; its mailboxes were in memory and are gone.")
	return nil
}

func printDemoBanner(w io.Writer, d *demo.Demo, speed float64, now time.Time) {
	self := selfCommand()
	send := self + " demo send"
	if d.SMTPAddr != net.JoinHostPort("127.0.0.1", strconv.Itoa(demo.DefaultSMTPPort)) {
		send += " --smtp " + d.SMTPAddr
	}
	contacts := demo.Contacts(d.Config)
	var authorised []string
	for i, c := range contacts {
		s := c.Email
		if i == len(contacts)-1 || contacts[i+1].Customer != c.Customer {
			s += " (" + c.Customer + ")"
		}
		authorised = append(authorised, s)
	}
	first := demoDesk
	if len(contacts) > 0 {
		first = contacts[0].Email
	}
	health, dashboard := `off (--http "")`, `off (--http "")`
	if d.HTTPListen != "" {
		health = "http://" + d.HTTPListen + "/readyz, /metrics; agent API under /api/v1"
		dashboard = "http://" + d.HTTPListen + "/"
		if d.HTTPBusy != "" {
			dashboard += "  (" + d.HTTPBusy + " was in use)"
		}
	}
	clock := "real time; --speed 60 makes an hour a minute, to see SLA warnings and breaches"
	if speed > 1 {
		clock = fmt.Sprintf("%g× real time, now %s (next office hours: QiQQ, Mon-Fri 09-17)", speed,
			now.In(d.Config.Desk.Location).Format("Mon 2 Jan 15:04"))
	}
	redisLine := d.Config.Redacted().Redis.URL
	if d.EmbeddedRedis {
		redisLine += " — " + demo.EmbeddedRedisNotice
	}
	fmt.Fprintf(w, `maildesk demo is running.
  Desk mailbox:   %[1]s (IMAP %[2]s, password %[3]q)
  Send a mail:    %[4]s --from %[5]s --subject "Printer kapot"
                  or any mail client / swaks via SMTP %[6]s (no auth, no TLS)
  Authorised:     %[7]s
  Try a stranger: %[4]s --from iemand@elders.demo --subject "Hallo"  (gets a notice, no ticket)
  Read replies:   IMAP %[2]s, user = the address, password %[3]q (no TLS)
  Priorities:     "Direct" or "spoed" in the subject is P1 (answer within 1 office hour), "Hoog" P2
  SLA alerts:     to agent@demo.example (warnings) and teamleider@demo.example (breaches), same IMAP login
  SLA clock:      %[12]s
  Dashboard:      %[13]s
  Tickets:        %[8]s tickets list --config %[9]s  (while the demo runs)
  Answer one:     %[8]s tickets reply --config %[9]s SD-1 --message "..."
  Health:         %[10]s
  Redis:          %[11]s
  Your mailbox:   password, or OAuth2 for Microsoft 365 and Google Workspace (imap.auth/smtp.auth: oauth2;
                  docs/signin.md); %[8]s auth status --config FILE shows the sign-in
  Stop:           Ctrl-C (the mailboxes are in memory and go with it)
`, demoDesk, d.IMAPAddr, demo.Password, send, first, d.SMTPAddr, strings.Join(authorised, ", "),
		self, shellQuote(d.ConfigPath), health, redisLine, clock, dashboard)
}

// selfCommand is how the user started this program, for commands to copy:
// under `go run` os.Args[0] is a throwaway build, so name the source instead.
func selfCommand() string {
	if strings.Contains(os.Args[0], "go-build") {
		return "go run ./cmd/maildesk"
	}
	return shellQuote(os.Args[0])
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:@+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func cmdDemoSend(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo send", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var m demoMail
	fs.StringVar(&m.From, "from", "", "sender address")
	fs.StringVar(&m.Subject, "subject", "", "subject")
	fs.StringVar(&m.Body, "body", "", "plain-text body (default a short problem report)")
	fs.StringVar(&m.To, "to", demoDesk, "recipient")
	fs.StringVar(&m.SMTP, "smtp", net.JoinHostPort("127.0.0.1", strconv.Itoa(demo.DefaultSMTPPort)), "SMTP server host:port")
	if err := fs.Parse(args); err != nil {
		return flagError(fs, err)
	}
	if fs.NArg() != 0 || m.From == "" || m.Subject == "" {
		return fmt.Errorf("%w: demo send needs --from ADDR and --subject TEXT, and no other arguments", errUsage)
	}
	id, err := sendDemoMail(ctx, m)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sent <%s>\n", id)
	return nil
}

// demoMail is one plain-text mail for `demo send`.
type demoMail struct {
	From, To, Subject, Body string
	SMTP                    string // host:port, no TLS, no AUTH
}

const defaultDemoBody = "Hallo,\n\nDit is een testmelding, verstuurd met maildesk demo send.\n\nGroet\n"

// sendDemoTimeout bounds the whole SMTP exchange: the demo server answers at
// once, so anything slower means a wrong --smtp address.
const sendDemoTimeout = 30 * time.Second

// sendDemoMail sends m and returns its Message-ID (without brackets).
func sendDemoMail(ctx context.Context, m demoMail) (string, error) {
	from, err := netmail.ParseAddress(m.From)
	if err != nil {
		return "", fmt.Errorf("%w: demo send --from %q: %v", errUsage, m.From, err)
	}
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return "", fmt.Errorf("%w: demo send --to %q: %v", errUsage, m.To, err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return "", fmt.Errorf("%w: demo send --subject must be one line", errUsage)
	}
	body := m.Body
	if body == "" {
		body = defaultDemoBody
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	id := strings.ToLower(rand.Text()) + "@" + domain

	var msg bytes.Buffer
	for _, h := range [][2]string{
		{"From", from.String()},
		{"To", to.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", m.Subject)},
		{"Date", time.Now().Format(time.RFC1123Z)},
		{"Message-ID", "<" + id + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
	} {
		fmt.Fprintf(&msg, "%s: %s\r\n", h[0], h[1])
	}
	msg.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&msg)
	if _, err := io.WriteString(qp, body); err != nil {
		return "", fmt.Errorf("encoding the body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return "", fmt.Errorf("encoding the body: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, sendDemoTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", m.SMTP)
	if err != nil {
		return "", fmt.Errorf("connecting to the demo SMTP server at %s (is the demo running?): %w", m.SMTP, err)
	}
	// go-smtp's client has no context: closing the connection ends a hung
	// exchange.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.SendMail(from.Address, []string{to.Address}, &msg); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return "", fmt.Errorf("sending mail from %s to %s via %s: %w", from.Address, to.Address, m.SMTP, err)
	}
	// The server has accepted the mail; a failed QUIT changes nothing.
	_ = c.Quit()
	return id, nil
}
