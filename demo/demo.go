// Package demo runs the servers maildesk needs, embedded in one process, so
// that `maildesk demo` shows the real daemon at work on a machine with
// nothing else installed: an in-memory IMAP server holding every mailbox, an
// SMTP server that delivers into it, and (unless a real one is given) an
// in-memory Redis. It also carries the demo desk's configuration.
package demo

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"text/template"

	"github.com/alicebob/miniredis/v2"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/configload"
)

// Defaults of the demo's listeners. The mail ports are unprivileged
// stand-ins for 143 and 25 so that no root is needed.
const (
	DefaultIMAPPort   = 1143
	DefaultSMTPPort   = 2525
	DefaultHTTPListen = "127.0.0.1:8080"
)

// Password is every demo user's password, the desk's included.
const Password = "demo"

// EmbeddedRedisNotice says what the embedded Redis means for the user's data.
const EmbeddedRedisNotice = "embedded in-memory Redis (miniredis): state is lost on exit; use --redis redis://... for a real one"

var (
	//go:embed demo.yaml
	configTemplate string
	//go:embed contacts.yaml
	contactsYAML []byte
)

// Options choose the demo's ports and Redis.
type Options struct {
	// IMAPPort and SMTPPort are loopback ports; 0 means any free port.
	IMAPPort, SMTPPort int
	// RedisURL is a real Redis to use; "" starts the embedded one.
	RedisURL string
	// HTTPListen is the daemon's health listener; "" turns it off. When the
	// address is taken another free loopback port is used instead.
	HTTPListen string
	// Log receives the embedded servers' messages; nil means slog.Default().
	Log *slog.Logger
}

// Demo is the running set of embedded servers and the config that points
// the daemon at them. Close stops the servers; the daemon must have stopped
// first.
type Demo struct {
	IMAPAddr string // host:port
	SMTPAddr string // host:port
	RedisURL string
	// EmbeddedRedis is true when RedisURL is the in-process miniredis.
	EmbeddedRedis bool
	// HTTPListen is where the daemon will serve /healthz and /readyz; "" if
	// off. HTTPBusy is the requested address when it was taken and
	// HTTPListen is a fallback.
	HTTPListen, HTTPBusy string
	// ConfigPath is the rendered config in a temp dir; it stays valid (and
	// reaches the same Redis) while the demo runs.
	ConfigPath string
	// Config is ConfigPath loaded through config.Parse, ready for the daemon.
	Config *config.Config

	dir   string
	imap  *imapServer
	smtp  *smtpServer
	redis *miniredis.Miniredis
}

// Start starts the embedded servers and loads the demo config. On error
// whatever was started is stopped again.
func Start(opts Options) (_ *Demo, err error) {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	d := &Demo{}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.dir, err = os.MkdirTemp("", "maildesk-demo-"); err != nil {
		return nil, fmt.Errorf("creating the demo's temp dir: %w", err)
	}

	imapLn, err := listenLoopback("IMAP", "--imap-port", opts.IMAPPort)
	if err != nil {
		return nil, err
	}
	d.imap = newIMAPServer(imapLn, log.With("component", "demo-imap"))
	d.IMAPAddr = imapLn.Addr().String()

	smtpLn, err := listenLoopback("SMTP", "--smtp-port", opts.SMTPPort)
	if err != nil {
		return nil, err
	}
	d.smtp = newSMTPServer(smtpLn, d.imap, log.With("component", "demo-smtp"))
	d.SMTPAddr = smtpLn.Addr().String()

	d.RedisURL = opts.RedisURL
	if d.RedisURL == "" {
		if d.redis, err = miniredis.Run(); err != nil {
			return nil, fmt.Errorf("starting the embedded Redis: %w", err)
		}
		// Without this miniredis only expires keys when told to; the
		// desk's TTLs (notice interval, delivery records) must run on the
		// clock as they would on Redis.
		d.redis.ClockTTL(true)
		d.RedisURL = "redis://" + d.redis.Addr() + "/0"
		d.EmbeddedRedis = true
	}

	var busy bool
	if d.HTTPListen, busy, err = freeHTTPListen(opts.HTTPListen); err != nil {
		return nil, err
	}
	if busy {
		d.HTTPBusy = opts.HTTPListen
	}

	if d.ConfigPath, d.Config, err = d.writeConfig(); err != nil {
		return nil, err
	}
	// The desk, the contacts, agents and managers exist from the start, so
	// that each can log in before any mail has reached them.
	users := []string{d.Config.Desk.Address}
	for _, c := range Contacts(d.Config) {
		users = append(users, c.Email)
	}
	for _, p := range append(append([]config.Person(nil), d.Config.Desk.Agents...), d.Config.Desk.Managers...) {
		users = append(users, p.Email)
	}
	for _, u := range users {
		if err := d.imap.ensureUser(u); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Close stops the servers and removes the temp dir. It may be called more
// than once.
func (d *Demo) Close() {
	if d.smtp != nil {
		d.smtp.close()
	}
	if d.imap != nil {
		d.imap.close()
	}
	if d.redis != nil {
		d.redis.Close()
	}
	if d.dir != "" {
		_ = os.RemoveAll(d.dir)
	}
}

// Contact is an authorised demo contact with the customer it reports for.
type Contact struct {
	config.Contact
	Customer string // the customer's name
}

// Contacts lists cfg's contacts in file order.
func Contacts(cfg *config.Config) []Contact {
	var out []Contact
	for _, cu := range cfg.Customers {
		for _, c := range cu.Contacts {
			out = append(out, Contact{Contact: c, Customer: cu.Name})
		}
	}
	return out
}

// writeConfig renders the demo config into the temp dir and loads it the way
// production loads a config, so the demo also exercises that path.
func (d *Demo) writeConfig() (string, *config.Config, error) {
	tmpl, err := template.New("demo.yaml").Funcs(template.FuncMap{
		// A Go-quoted string is a valid YAML double-quoted scalar, so that a
		// Redis URL with a password or a # cannot break the document.
		"quote": strconv.Quote,
	}).Option("missingkey=error").Parse(configTemplate)
	if err != nil {
		return "", nil, fmt.Errorf("parsing the embedded demo config: %w", err)
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, map[string]string{
		"IMAPAddr": d.IMAPAddr, "SMTPAddr": d.SMTPAddr, "RedisURL": d.RedisURL,
		"HTTPListen": d.HTTPListen, "Password": Password,
	})
	if err != nil {
		return "", nil, fmt.Errorf("rendering the demo config: %w", err)
	}
	path := filepath.Join(d.dir, "maildesk.yaml")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return "", nil, fmt.Errorf("writing the demo config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "contacts.yaml"), contactsYAML, 0o600); err != nil {
		return "", nil, fmt.Errorf("writing the demo contacts: %w", err)
	}
	// MAILDESK_* variables are for the user's real desk; letting them
	// override the demo could point it at a production mailbox or Redis.
	noEnv := func(string) (string, bool) { return "", false }
	cfg, err := configload.Parse(buf.Bytes(), d.dir, noEnv)
	if err != nil {
		return "", nil, fmt.Errorf("loading the demo config: %w", err)
	}
	return path, cfg, nil
}

// listenLoopback listens on 127.0.0.1:port for the named server.
func listenLoopback(what, flag string, port int) (net.Listener, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("starting the demo %s server: %s is in use (another demo running?); choose another with %s, 0 for any free port: %w",
			what, addr, flag, err)
	}
	if err != nil {
		return nil, fmt.Errorf("starting the demo %s server on %s: %w", what, addr, err)
	}
	return ln, nil
}

// freeHTTPListen returns addr if it can be listened on now, or else a free
// loopback address and busy = true. The daemon listens itself, a moment
// later: another program could take the port in between, which for a demo
// is not worth changing the daemon for.
func freeHTTPListen(addr string) (listen string, busy bool, err error) {
	if addr == "" {
		return "", false, nil
	}
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		busy = true
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return "", false, fmt.Errorf("checking the HTTP listen address %s: %w", addr, err)
	}
	listen = ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", false, fmt.Errorf("checking the HTTP listen address %s: %w", addr, err)
	}
	// Keep the address as written (e.g. localhost:8080) unless it asked
	// for any port, which the banner must name.
	if _, port, _ := net.SplitHostPort(addr); !busy && port != "0" {
		listen = addr
	}
	return listen, busy, nil
}
