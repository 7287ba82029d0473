package testserver

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// xoauth2Client is SASL XOAUTH2, which go-sasl does not have. A failed
// sign-in gets a JSON challenge with the reason; Next keeps it and aborts
// the exchange.
type xoauth2Client struct {
	user, token string
	challenge   []byte
}

func (c *xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	c.challenge = challenge
	return nil, fmt.Errorf("XOAUTH2 refused: %s", challenge)
}

// imapAuthenticate signs in with client (SASL-IR) and fails the test
// unless the server accepts it.
func imapAuthenticate(t *testing.T, d *DovecotServer, client sasl.Client) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(d.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Authenticate(client); err != nil {
		t.Fatalf("AUTHENTICATE: %v\n%s", err, d.LogTail())
	}
	return c
}

// rawAuthenticate runs AUTHENTICATE mech with initial response ir over a
// plain connection and answers a challenge with answer, so that the test
// sees exactly what the server says. It returns the decoded challenge ("" if
// none) and the tagged reply without the tag.
func rawAuthenticate(addr, mech string, ir []byte, answer string) (challenge, reply string, err error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil {
		return "", "", fmt.Errorf("greeting: %w", err)
	}
	fmt.Fprintf(conn, "a AUTHENTICATE %s %s\r\n", mech, base64.StdEncoding.EncodeToString(ir))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return challenge, "", fmt.Errorf("AUTHENTICATE %s: %w", mech, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if rest, ok := strings.CutPrefix(line, "+ "); ok {
			raw, _ := base64.StdEncoding.DecodeString(rest)
			challenge = string(raw)
			fmt.Fprintf(conn, "%s\r\n", answer)
			continue
		}
		if rest, ok := strings.CutPrefix(line, "a "); ok {
			return challenge, rest, nil
		}
	}
}

func xoauth2IR(user, token string) []byte {
	_, ir, _ := (&xoauth2Client{user: user, token: token}).Start()
	return ir
}

func oauthbearerIR(user, token string) []byte {
	_, ir, _ := sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: user, Token: token}).Start()
	return ir
}

func TestDovecotOAuth2SignIn(t *testing.T) {
	t.Parallel()
	o := NewOAuthServer(t)
	d := DovecotWith(t, DovecotOptions{OAuth: o})
	const user = "desk@desk.example"
	token := o.Mint(user, time.Hour)

	c := imapAuthenticate(t, d, &xoauth2Client{user: user, token: token})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT after XOAUTH2: %v", err)
	}
	c = imapAuthenticate(t, d, sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: user, Token: token}))
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT after OAUTHBEARER: %v", err)
	}
	// Password sign-in is unchanged.
	if msgs := d.Mailbox(t, user, "INBOX"); len(msgs) != 0 {
		t.Errorf("INBOX has %d messages", len(msgs))
	}

	forger := &OAuthServer{Issuer: o.Issuer, Key: []byte("not the key Dovecot has")}
	refused := map[string]string{
		"expired":         o.Mint(user, -time.Minute),
		"other mailbox":   o.Mint("someone@desk.example", time.Hour),
		"other key":       forger.Mint(user, time.Hour),
		"other issuer":    NewOAuthServer(t).Mint(user, time.Hour),
		"static password": "secret", // must not pass the static passdb
	}
	type attempt struct {
		token, mech, answer string
		ir                  []byte
	}
	var attempts []attempt
	for name, tok := range refused {
		// The client answers the error challenge with an empty response
		// (XOAUTH2) or %x01 (OAUTHBEARER, RFC 7628 3.2.3).
		attempts = append(attempts,
			attempt{name, "XOAUTH2", "", xoauth2IR(user, tok)},
			attempt{name, "OAUTHBEARER", base64.StdEncoding.EncodeToString([]byte{1}), oauthbearerIR(user, tok)})
	}
	// Dovecot answers each refusal after up to 0.5 s: all at once.
	results := make([]string, len(attempts))
	var wg sync.WaitGroup
	for i, a := range attempts {
		wg.Go(func() {
			challenge, reply, err := rawAuthenticate(d.IMAPAddr, a.mech, a.ir, a.answer)
			switch {
			case err != nil:
				results[i] = err.Error()
			case !strings.HasPrefix(reply, "NO [AUTHENTICATIONFAILED]"):
				results[i] = fmt.Sprintf("reply %q, want NO [AUTHENTICATIONFAILED]", reply)
			case a.mech == "XOAUTH2" && !strings.Contains(challenge, `"status":"401"`),
				a.mech == "OAUTHBEARER" && !strings.Contains(challenge, `"status":"invalid_token"`):
				results[i] = fmt.Sprintf("challenge %q", challenge)
			}
		})
	}
	wg.Wait()
	for i, a := range attempts {
		if results[i] != "" {
			t.Errorf("%s token, %s: %s", a.token, a.mech, results[i])
		}
	}
	log, err := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Token has expired", "did not match", "Incorrect JWT signature", "is not allowed", "Not a JWT token"} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("log lacks the reason %q:\n%s", want, log)
		}
	}

	// The tiny client reports the reason of a refusal.
	conn, err := imapclient.DialInsecure(d.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	xc := &xoauth2Client{user: user, token: o.Mint(user, -time.Minute)}
	if err := conn.Authenticate(xc); err == nil || !bytes.Contains(xc.challenge, []byte(`"401"`)) {
		t.Errorf("expired token: err = %v, challenge %q", err, xc.challenge)
	}
}

func TestDovecotSubmissionRelaysXOAUTH2(t *testing.T) {
	t.Parallel()
	sink := SMTP(t)
	o := NewOAuthServer(t)
	d := DovecotWith(t, DovecotOptions{OAuth: o, SubmissionRelay: sink.Addr})
	if host, _, err := net.SplitHostPort(d.SubmissionAddr); err != nil || host != "127.0.0.1" {
		t.Fatalf("SubmissionAddr = %q", d.SubmissionAddr)
	}
	const user = "desk@desk.example"

	send := func(subject string, client sasl.Client) error {
		c, err := smtp.Dial(d.SubmissionAddr)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Hello("client.example"); err != nil {
			return err
		}
		if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "XOAUTH2") || !strings.Contains(mechs, "OAUTHBEARER") {
			return fmt.Errorf("AUTH mechanisms without TLS: %q", mechs)
		}
		if err := c.Auth(client); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
		raw := testMail(user, "alice@customer.example", subject)
		if err := c.SendMail(user, []string{"alice@customer.example"}, bytes.NewReader(raw)); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		return c.Quit()
	}
	if err := send("relayed one", &xoauth2Client{user: user, token: o.Mint(user, time.Hour)}); err != nil {
		t.Fatalf("%v\n%s", err, d.LogTail())
	}
	got := sink.WaitFor(t, 1, 5*time.Second)
	if got[0].From != user || strings.Join(got[0].To, ",") != "alice@customer.example" ||
		!bytes.Contains(got[0].Data, []byte("Subject: relayed one")) ||
		!bytes.Contains(got[0].Data, []byte("by testserver.localhost")) {
		t.Errorf("relayed = %+v", got[0])
	}

	xc := &xoauth2Client{user: user, token: o.Mint(user, -time.Minute)}
	if err := send("refused", xc); err == nil || !bytes.Contains(xc.challenge, []byte(`"401"`)) {
		t.Errorf("expired token: err = %v, challenge %q", err, xc.challenge)
	}

	// A restart keeps the options and the submission port.
	addr := d.SubmissionAddr
	d.Restart(t)
	if d.SubmissionAddr != addr {
		t.Fatalf("SubmissionAddr changed on restart: %s -> %s", addr, d.SubmissionAddr)
	}
	if err := send("relayed two", sasl.NewPlainClient("", user, d.Password)); err != nil {
		t.Fatalf("after restart, AUTH PLAIN: %v\n%s", err, d.LogTail())
	}
	if err := send("relayed three", sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: user, Token: o.Mint(user, time.Hour)})); err != nil {
		t.Fatalf("after restart, OAUTHBEARER: %v\n%s", err, d.LogTail())
	}
	if got := sink.WaitFor(t, 3, 5*time.Second); len(got) != 3 {
		t.Errorf("sink has %d messages", len(got))
	}
}

func TestDovecotKick(t *testing.T) {
	t.Parallel()
	o := NewOAuthServer(t)
	d := DovecotWith(t, DovecotOptions{OAuth: o})
	const alice, bob = "alice@desk.example", "bob@desk.example"
	a := imapAuthenticate(t, d, &xoauth2Client{user: alice, token: o.Mint(alice, time.Hour)})
	if _, err := a.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	b, err := imapclient.DialInsecure(d.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Login(bob, d.Password).Wait(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	d.Kick(t, alice)
	select {
	case <-a.Closed():
	case <-time.After(5 * time.Second):
		t.Fatalf("alice's session still open 5 s after Kick")
	}
	t.Logf("kicked in %v", time.Since(start).Round(time.Millisecond))
	if err := a.Noop().Wait(); err == nil {
		t.Errorf("NOOP on a kicked session succeeded")
	}
	if err := b.Noop().Wait(); err != nil {
		t.Errorf("bob's session: %v", err)
	}
	// The client signs in again with a fresh token.
	imapAuthenticate(t, d, &xoauth2Client{user: alice, token: o.Mint(alice, time.Hour)})
	// Kicking a user without sessions is fine.
	d.Kick(t, "nobody@desk.example")
}

func TestDovecotWithoutOptionsHasNoOAuth(t *testing.T) {
	t.Parallel()
	d := Dovecot(t)
	if d.SubmissionAddr != "" {
		t.Errorf("SubmissionAddr = %q", d.SubmissionAddr)
	}
	_, reply, err := rawAuthenticate(d.IMAPAddr, "XOAUTH2", xoauth2IR("a@desk.example", "secret"), "")
	if err != nil || !strings.HasPrefix(reply, "NO") {
		t.Errorf("XOAUTH2 without OAuth: %q %v", reply, err)
	}
}
