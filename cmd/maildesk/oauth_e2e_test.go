package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/internal/testserver"
)

// oauthEnv is a desk whose IMAP and SMTP sign-in is OAuth2 against a real
// Dovecot (its oauth2 passdb checks the tokens) and Dovecot's submission
// server, with the authorization server in the test.
type oauthEnv struct {
	*env
	as *testserver.OAuthServer
}

// newOAuthEnv starts the servers; section is the oauth2 section's body,
// with files written next to the config. smtpOAuth false keeps SMTP on a
// plain relay (a desk whose MTA needs no sign-in).
func newOAuthEnv(t *testing.T, as *testserver.OAuthServer, section string, files map[string][]byte, smtpOAuth bool, extra string) *oauthEnv {
	t.Helper()
	sink := testserver.SMTP(t)
	dc := testserver.DovecotWith(t, testserver.DovecotOptions{OAuth: as, SubmissionRelay: sink.Addr})
	sink.ForwardTo(dc)
	o := envOptions{
		dovecot: dc, smtp: sink, imapAuth: "auth: oauth2",
		extra: "oauth2:\n" + indent(section) + extra,
	}
	if smtpOAuth {
		o.smtpAddr, o.smtpAuth = dc.SubmissionAddr, "username: "+desk+"\n  auth: oauth2"
	}
	e := newEnvOpts(t, o)
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(e.dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &oauthEnv{env: e, as: as}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "  " + strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n") + "\n"
}

// ackFor waits for the acknowledgement of a ticket in jan's mailbox.
func (e *oauthEnv) waitForAck(n int) {
	e.t.Helper()
	eventually(e.t, 20*time.Second, fmt.Sprintf("%d acknowledgements to jan", n), func() bool {
		return e.count("jan@acme.example", "INBOX") >= n
	})
}

var tokenKey = []byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n") // base64 of 32 bytes

// Every grant, from mail in to acknowledgement out: the daemon signs in to
// Dovecot's IMAP and submission servers with tokens from the
// authorization server, and nothing else.
func TestOAuth2Grants(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, as *testserver.OAuthServer) (section string, files map[string][]byte)
		// login runs maildesk auth login first (device_code).
		login bool
		grant string // testserver grant type the daemon must have used
	}{
		{"microsoft client secret", func(t *testing.T, as *testserver.OAuthServer) (string, map[string][]byte) {
			as.AddClient("app", "s3cret", desk)
			return fmt.Sprintf("provider: microsoft\ntenant: contoso.onmicrosoft.com\ngrant: client_credentials\nclient_id: app\nclient_secret_file: secret\nclient_secret_expires: 2099-01-01\ntoken_url: %s", as.TokenURL),
				map[string][]byte{"secret": []byte("s3cret\n")}
		}, false, testserver.GrantClientCredentials},
		{"microsoft certificate", func(t *testing.T, as *testserver.OAuthServer) (string, map[string][]byte) {
			dir := t.TempDir()
			certFile, keyFile, cert := testserver.WriteCertificate(t, dir, time.Now().Add(365*24*time.Hour))
			as.AddCertClient("cert-app", cert, desk)
			return fmt.Sprintf("provider: microsoft\ntenant: contoso.onmicrosoft.com\ngrant: client_credentials\nclient_id: cert-app\ncertificate_file: %s\nprivate_key_file: %s\ntoken_url: %s", certFile, keyFile, as.TokenURL), nil
		}, false, testserver.GrantClientCredentials},
		{"microsoft device code", func(t *testing.T, as *testserver.OAuthServer) (string, map[string][]byte) {
			as.AddPublicClient("public-app", "")
			return fmt.Sprintf("provider: microsoft\ntenant: organizations\ngrant: device_code\nclient_id: public-app\ntoken_key_file: token-key\ntoken_url: %s\ndevice_auth_url: %s", as.TokenURL, as.DeviceAuthURL),
				map[string][]byte{"token-key": tokenKey}
		}, true, testserver.GrantDeviceCode},
		{"generic refresh token", func(t *testing.T, as *testserver.OAuthServer) (string, map[string][]byte) {
			as.AddPublicClient("public-app", "")
			return fmt.Sprintf("provider: generic\ngrant: refresh_token\nclient_id: public-app\nrefresh_token_file: refresh-token\ntoken_key_file: token-key\ntoken_url: %s\nscopes: [mail, offline_access]", as.TokenURL),
				map[string][]byte{"token-key": tokenKey, "refresh-token": []byte(as.IssueRefreshToken("public-app", desk) + "\n")}
		}, false, testserver.GrantRefreshToken},
		{"google service account, oauthbearer", func(t *testing.T, as *testserver.OAuthServer) (string, map[string][]byte) {
			key := as.AddServiceAccount(t, "maildesk@project.iam.gserviceaccount.com")
			return "provider: google\ngrant: service_account\nservice_account_file: sa.json\nmechanism: oauthbearer",
				map[string][]byte{"sa.json": key}
		}, false, testserver.GrantJWTBearer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each has its own servers; most of the time is waiting
			as := testserver.NewOAuthServer(t)
			section, files := tt.setup(t, as)
			e := newOAuthEnv(t, as, section, files, true, "")
			if tt.login {
				deviceLogin(t, e)
			}
			e.deliver(mail("Jan Jansen <jan@acme.example>", "Printer kapot", "g1@acme.example"))
			stop := e.start()
			defer stop()
			e.waitForAck(1)
			if n := as.Requests(tt.grant); n == 0 {
				t.Errorf("no %s token request was made", tt.grant)
			}
			// Access tokens are JWTs here: none may reach the log.
			if strings.Contains(e.log.String(), "eyJ") || strings.Contains(e.log.String(), "s3cret") {
				t.Error("a token or secret is in the log")
			}
			st := authStatusJSON(t, e.env)
			if st.IMAP.LastOK.IsZero() && !eventuallyOK(func() bool { return !authStatusJSON(t, e.env).IMAP.LastOK.IsZero() }) {
				t.Errorf("auth status shows no IMAP sign-in: %+v", st)
			}
		})
	}
}

// eventuallyOK polls cond for up to 20 s (the alarm job records sign-ins
// every 15 s).
func eventuallyOK(cond func() bool) bool {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// deviceLogin runs maildesk auth login as an operator would and approves
// the code it prints.
func deviceLogin(t *testing.T, e *oauthEnv) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var errOut bytes.Buffer
	go func() {
		done <- run([]string{"auth", "login", "--config", e.config}, pw, &errOut)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("auth login printed nothing: %v (%s)", err, errOut.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := regexp.MustCompile(`enter the code (\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("auth login printed %q", line)
	}
	if err := e.as.ApproveDevice(m[1], desk); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 0 {
		t.Fatalf("auth login exit %d: %s", code, errOut.String())
	}
}

func authStatusJSON(t *testing.T, e *env) authStatus {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run([]string{"auth", "status", "--config", e.config, "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("auth status exit %d: %s", code, errOut.String())
	}
	var st authStatus
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("auth status --json: %v\n%s", err, out.String())
	}
	return st
}

// Access tokens that expire while the session runs: Dovecot checks the
// token only at sign-in, so the session is ended (doveadm kick, as Exchange
// Online ends it with "BYE Session invalidated - AccessTokenExpired"); the
// daemon signs in again with a new token and neither loses nor repeats mail.
func TestOAuth2TokenExpiresDuringSession(t *testing.T) {
	as := testserver.NewOAuthServer(t)
	as.SetLifetime(3 * time.Second)
	as.AddClient("app", "s3cret", desk)
	e := newOAuthEnv(t, as, fmt.Sprintf("provider: microsoft\ntenant: t\ngrant: client_credentials\nclient_id: app\nclient_secret_file: secret\ntoken_url: %s", as.TokenURL),
		map[string][]byte{"secret": []byte("s3cret\n")}, true, "")
	stop := e.start()
	defer stop()
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Eerste", "x1@acme.example"))
	e.waitForAck(1)
	first := as.Requests(testserver.GrantClientCredentials)
	for i := 2; i <= 3; i++ {
		time.Sleep(3500 * time.Millisecond) // the token in hand has expired
		e.dc.Kick(t, desk)
		e.deliver(mail("Jan Jansen <jan@acme.example>", fmt.Sprintf("Mail %d", i), fmt.Sprintf("x%d@acme.example", i)))
		e.waitForAck(i)
	}
	if n := as.Requests(testserver.GrantClientCredentials); n <= first {
		t.Errorf("token requests %d -> %d: no new token after expiry", first, n)
	}
	if ts := e.tickets(); len(ts) != 3 {
		t.Errorf("%d tickets, want 3", len(ts))
	}
	eventually(t, 10*time.Second, "inbox drained", func() bool { return e.count(desk, "INBOX") == 0 })
	if n := e.count("jan@acme.example", "INBOX"); n != 3 {
		t.Errorf("jan has %d mails, want 3 acknowledgements", n)
	}
}

// A rotated refresh token survives a restart: the daemon uses the grant it
// stored, not the (now revoked) token of refresh_token_file.
func TestOAuth2RotatedRefreshTokenAcrossRestart(t *testing.T) {
	as := testserver.NewOAuthServer(t)
	as.SetLifetime(3 * time.Second)
	as.AddPublicClient("public-app", "")
	first := as.IssueRefreshToken("public-app", desk)
	e := newOAuthEnv(t, as, fmt.Sprintf("provider: generic\ngrant: refresh_token\nclient_id: public-app\nrefresh_token_file: refresh-token\ntoken_key_file: token-key\ntoken_url: %s", as.TokenURL),
		map[string][]byte{"token-key": tokenKey, "refresh-token": []byte(first + "\n")}, true, "")
	stop := e.start()
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Voor", "r1@acme.example"))
	e.waitForAck(1)
	stop()
	time.Sleep(3500 * time.Millisecond) // the stored access token expires: the restart must refresh
	before := as.Requests(testserver.GrantRefreshToken)
	stop = e.start()
	defer stop()
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Na", "r2@acme.example"))
	e.waitForAck(2)
	if n := as.Requests(testserver.GrantRefreshToken); n <= before {
		t.Errorf("no refresh after the restart (%d -> %d)", before, n)
	}
	if strings.Contains(e.log.String(), "invalid_grant") {
		t.Errorf("the restart used the revoked refresh token of the file:\n%s", e.log.String())
	}
}

// Revoked credentials: the mailbox cannot be signed in to; after
// alerts.after one alarm mail names the authorization server's reason,
// /readyz is not ready and says why, the metrics show it; once the
// credential works again the desk recovers by itself and says so.
func TestOAuth2RevokedAlarmAndRecovery(t *testing.T) {
	as := testserver.NewOAuthServer(t)
	as.SetLifetime(2 * time.Second)
	as.AddClient("app", "s3cret", desk)
	listen := freeAddr(t)
	e := newOAuthEnv(t, as, fmt.Sprintf("provider: microsoft\ntenant: t\ngrant: client_credentials\nclient_id: app\nclient_secret_file: secret\ntoken_url: %s", as.TokenURL),
		map[string][]byte{"secret": []byte("s3cret\n")}, false,
		"alerts:\n  to: [ops@desk.example]\n  after: 3s\n")
	// The config has http.listen "": the environment overrides it.
	t.Setenv("MAILDESK_HTTP_LISTEN", listen)
	stop := e.start()
	defer stop()
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Voor", "v1@acme.example"))
	e.waitForAck(1)

	as.Revoke("app")
	time.Sleep(2500 * time.Millisecond) // the token in hand expires
	e.dc.Kick(t, desk)
	eventually(t, 40*time.Second, "the alarm mail", func() bool { return e.count("ops@desk.example", "INBOX") >= 1 })
	alarm := e.dc.Mailbox(t, "ops@desk.example", "INBOX")[0]
	body := string(alarm.Raw)
	if !strings.Contains(body, "AADSTS7000215") || !strings.Contains(header(alarm.Raw, "Subject"), "IMAP") {
		t.Errorf("alarm mail does not name the reason:\n%s", body)
	}
	code, ready := get(t, "http://"+listen+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(ready, "invalid_client") {
		t.Errorf("/readyz = %d %s", code, ready)
	}
	_, metrics := get(t, "http://"+listen+"/metrics")
	for _, want := range []string{`maildesk_mailbox_up{desk="acme-it"} 0`, `maildesk_signin_failures_total{desk="acme-it",reason="token_invalid_client",server="imap"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if st := authStatusJSON(t, e.env); !strings.Contains(st.TokenError, "AADSTS7000215") {
		t.Errorf("auth status token error = %q", st.TokenError)
	}

	as.Restore("app")
	eventually(t, 60*time.Second, "the all-clear mail", func() bool { return e.count("ops@desk.example", "INBOX") >= 2 })
	e.deliver(mail("Jan Jansen <jan@acme.example>", "Na", "v2@acme.example"))
	e.waitForAck(2)
	if code, ready := get(t, "http://"+listen+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after recovery = %d %s", code, ready)
	}
	if n := e.count("ops@desk.example", "INBOX"); n != 2 {
		t.Errorf("ops got %d mails, want the alarm and the all-clear", n)
	}
}

// A wrong client secret is a clear error naming the authorization server's
// reason, in auth status and in the daemon's log, never the secret.
func TestOAuth2WrongSecret(t *testing.T) {
	as := testserver.NewOAuthServer(t)
	as.AddClient("app", "right", desk)
	e := newOAuthEnv(t, as, fmt.Sprintf("provider: microsoft\ntenant: t\ngrant: client_credentials\nclient_id: app\nclient_secret_file: secret\ntoken_url: %s", as.TokenURL),
		map[string][]byte{"secret": []byte("wrong-secret-value\n")}, true, "")
	st := authStatusJSON(t, e.env)
	if !strings.Contains(st.TokenError, "invalid_client: AADSTS7000215") {
		t.Errorf("auth status: %q", st.TokenError)
	}
	var out, errOut bytes.Buffer
	run([]string{"auth", "status", "--config", e.config}, &out, &errOut)
	if !strings.Contains(out.String(), "AADSTS7000215") {
		t.Errorf("auth status text:\n%s", out.String())
	}
	stop := e.start()
	eventually(t, 10*time.Second, "the sign-in failure in the log", func() bool {
		return strings.Contains(e.log.String(), "AADSTS7000215")
	})
	stop()
	for _, s := range []string{e.log.String(), out.String()} {
		if strings.Contains(s, "wrong-secret-value") {
			t.Error("the secret is in the output")
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
