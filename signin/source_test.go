package signin

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/internal/testserver"
)

const (
	mailbox = "servicedesk@desk.example"
	prefix  = "md:{desk}:"
)

func newRedis(t *testing.T) redis.UniversalClient {
	t.Helper()
	srv := testserver.Redis(t)
	opt, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func tokenKey(t *testing.T) []byte {
	k := make([]byte, config.TokenKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newSource(t *testing.T, cfg config.OAuth2, rdb redis.UniversalClient, now func() time.Time) *Source {
	t.Helper()
	s, err := New(cfg, Options{Redis: rdb, KeyPrefix: prefix, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func delegatedConfig(as *testserver.OAuthServer, grant string, key []byte) config.OAuth2 {
	return config.OAuth2{
		Provider: "generic", Grant: grant, ClientID: "delegated-app", TokenURL: as.TokenURL,
		DeviceAuthURL: as.DeviceAuthURL, Scopes: []string{"mail", "offline_access"}, TokenKey: key, Mechanism: MechXOAuth2,
	}
}

// A rotated refresh token is stored before its access token is used, and a
// restarted daemon uses the stored grant, never the stale one of the file.
func TestRefreshTokenRotationSurvivesRestart(t *testing.T) {
	as := testserver.NewOAuthServer(t)
	as.AddPublicClient("delegated-app", "")
	rdb := newRedis(t)
	key := tokenKey(t)
	cfg := delegatedConfig(as, config.GrantRefreshToken, key)
	cfg.RefreshToken = as.IssueRefreshToken("delegated-app", mailbox)

	s := newSource(t, cfg, rdb, nil)
	if _, err := s.Token(t.Context(), mailbox); err != nil {
		t.Fatal(err)
	}
	g, err := s.StoredGrant(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if g.RefreshToken == cfg.RefreshToken || g.Origin != "refresh_token_file" {
		t.Fatalf("stored grant not rotated: origin %q", g.Origin)
	}

	// The restart: a new Source with the same file, whose token the
	// rotation has revoked. It takes the stored access token as it is, and
	// once that is refused, refreshes with the stored refresh token.
	s2 := newSource(t, cfg, rdb, nil)
	for i := 0; i < 3; i++ {
		if _, err := s2.Token(t.Context(), mailbox); err != nil {
			t.Fatalf("restart, token %d: %v", i, err)
		}
		s2.Refused(mailbox)
	}
	if n := as.Requests(testserver.GrantRefreshToken); n != 3 {
		t.Errorf("refresh requests = %d, want 3 (the first start, then one after each of two refusals)", n)
	}
}

// Replicas share the stored access token: the second does not refresh.
func TestReplicasShareGrant(t *testing.T) {
	as := testserver.NewOAuthServer(t)
	as.AddPublicClient("delegated-app", "")
	rdb := newRedis(t)
	cfg := delegatedConfig(as, config.GrantRefreshToken, tokenKey(t))
	cfg.RefreshToken = as.IssueRefreshToken("delegated-app", mailbox)
	a, b := newSource(t, cfg, rdb, nil), newSource(t, cfg, rdb, nil)
	var wg sync.WaitGroup
	toks := make([]string, 2)
	for i, s := range []*Source{a, b} {
		wg.Go(func() {
			var err error
			if toks[i], err = s.Token(context.Background(), mailbox); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if toks[0] != toks[1] || as.Requests(testserver.GrantRefreshToken) != 1 {
		t.Errorf("two replicas made %d refreshes (tokens equal: %v), want 1", as.Requests(testserver.GrantRefreshToken), toks[0] == toks[1])
	}
}

// The grant in Redis is encrypted; another key does not open it and says so.
func TestGrantEncrypted(t *testing.T) {
	as := testserver.NewOAuthServer(t)
	as.AddPublicClient("delegated-app", "")
	rdb := newRedis(t)
	cfg := delegatedConfig(as, config.GrantRefreshToken, tokenKey(t))
	cfg.RefreshToken = as.IssueRefreshToken("delegated-app", mailbox)
	s := newSource(t, cfg, rdb, nil)
	tok, err := s.Token(t.Context(), mailbox)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := s.StoredGrant(t.Context())
	raw, err := rdb.Get(t.Context(), prefix+"oauth2:grant").Result()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, tok) || strings.Contains(raw, g.RefreshToken) || strings.Contains(raw, "refresh") {
		t.Error("the stored grant is readable in Redis")
	}
	cfg.TokenKey = tokenKey(t)
	other := newSource(t, cfg, rdb, nil)
	_, err = other.Token(t.Context(), mailbox)
	if err == nil || !strings.Contains(err.Error(), "does not decrypt") {
		t.Errorf("wrong key: %v", err)
	}
}

// Tokens are reused until the last quarter of their life (at most 5
// minutes before expiry) and replaced after a refusal.
func TestClientCredentialsCaching(t *testing.T) {
	as := testserver.NewOAuthServer(t)
	as.AddClient("app", "s3cret", mailbox)
	as.SetLifetime(time.Hour)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cfg := config.OAuth2{Provider: "microsoft", Tenant: "contoso", Grant: config.GrantClientCredentials,
		ClientID: "app", ClientSecret: "s3cret", TokenURL: as.TokenURL, Mechanism: MechXOAuth2}
	s := newSource(t, cfg, nil, clock)
	get := func() {
		t.Helper()
		if _, err := s.Token(t.Context(), mailbox); err != nil {
			t.Fatal(err)
		}
	}
	get()
	get()
	if n := as.Requests(testserver.GrantClientCredentials); n != 1 {
		t.Fatalf("requests = %d after two Token calls, want 1", n)
	}
	if got := as.LastScope(testserver.GrantClientCredentials); got != "https://outlook.office365.com/.default" {
		t.Errorf("scope %q", got)
	}
	advance(54 * time.Minute) // 6 minutes left: still fresh
	get()
	advance(2 * time.Minute) // 4 minutes left: replaced
	get()
	s.Refused("someone-else@desk.example") // one token serves every mailbox
	get()
	if n := as.Requests(testserver.GrantClientCredentials); n != 3 {
		t.Errorf("requests = %d, want 3", n)
	}
}

func TestCertificateCredential(t *testing.T) {
	as := testserver.NewOAuthServer(t)
	certFile, keyFile, cert := testserver.WriteCertificate(t, t.TempDir(), time.Now().Add(90*24*time.Hour))
	as.AddCertClient("cert-app", cert, mailbox)
	cfg, ps := loadOAuth2(t, "provider: microsoft\n  tenant: contoso.onmicrosoft.com\n  grant: client_credentials\n  client_id: cert-app\n  certificate_file: "+certFile+"\n  private_key_file: "+keyFile+"\n  token_url: "+as.TokenURL)
	if ps != nil {
		t.Fatal(ps)
	}
	s := newSource(t, cfg.OAuth2, nil, nil)
	if _, err := s.Token(t.Context(), mailbox); err != nil {
		t.Fatal(err)
	}
	if exp, what := CredentialExpiry(cfg.OAuth2); what != "certificate" || !exp.Equal(cert.NotAfter) {
		t.Errorf("CredentialExpiry = %v %q", exp, what)
	}
}

// A wrong secret is an error naming the endpoint and the authorization
// server's reason, and never the secret.
func TestTokenErrors(t *testing.T) {
	as := testserver.NewOAuthServer(t)
	as.AddClient("app", "right-secret", mailbox)
	tests := []struct {
		name       string
		cfg        config.OAuth2
		wantReason string
		wantText   string
	}{
		{"wrong secret", config.OAuth2{Provider: "microsoft", Tenant: "t", Grant: config.GrantClientCredentials, ClientID: "app",
			ClientSecret: "wrong-secret", TokenURL: as.TokenURL}, "token_invalid_client", "AADSTS7000215"},
		{"unknown client", config.OAuth2{Provider: "microsoft", Tenant: "t", Grant: config.GrantClientCredentials, ClientID: "nobody",
			ClientSecret: "wrong-secret", TokenURL: as.TokenURL}, "token_unauthorized_client", "AADSTS700016"},
		{"unreachable", config.OAuth2{Provider: "generic", Grant: config.GrantClientCredentials, ClientID: "app",
			ClientSecret: "wrong-secret", TokenURL: "http://127.0.0.1:1/token"}, "token_unreachable", "127.0.0.1:1"},
	}
	for _, tt := range tests {
		s := newSource(t, tt.cfg, nil, nil)
		_, err := s.Token(t.Context(), mailbox)
		if err == nil {
			t.Fatalf("%s: no error", tt.name)
		}
		if got := Reason(err); got != tt.wantReason {
			t.Errorf("%s: Reason = %q, want %q (%v)", tt.name, got, tt.wantReason, err)
		}
		if !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), "client_credentials token request") {
			t.Errorf("%s: error %q does not say %q", tt.name, err, tt.wantText)
		}
		if strings.Contains(err.Error(), "wrong-secret") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error shows the secret or several lines: %q", tt.name, err)
		}
	}
	// A revoked delegated grant tells what to do.
	as.AddPublicClient("delegated-app", "")
	cfg := delegatedConfig(as, config.GrantRefreshToken, tokenKey(t))
	cfg.RefreshToken = "never-issued"
	_, err := newSource(t, cfg, newRedis(t), nil).Token(t.Context(), mailbox)
	if Reason(err) != "token_invalid_grant" || !strings.Contains(err.Error(), "maildesk auth login") {
		t.Errorf("invalid grant: %v", err)
	}
}

// The device flow prints where to sign in, waits for it and stores the
// grant; the daemon then signs in with it.
func TestDeviceLogin(t *testing.T) {
	as := testserver.NewOAuthServer(t)
	as.AddPublicClient("delegated-app", "")
	rdb := newRedis(t)
	cfg := delegatedConfig(as, config.GrantDeviceCode, tokenKey(t))
	s := newSource(t, cfg, rdb, nil)
	if _, err := s.Token(t.Context(), mailbox); !errors.Is(err, ErrNoGrant) || Reason(err) != "no_grant" {
		t.Fatalf("before login: %v", err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Login(t.Context(), pw)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`open (\S+) and enter the code (\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("login printed %q", line)
	}
	if err := as.ApproveDevice(m[2], mailbox); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	g, err := newSource(t, cfg, rdb, nil).StoredGrant(t.Context())
	if err != nil || g.Origin != "device_code" || g.RefreshToken == "" {
		t.Fatalf("stored grant %+v, %v", g, err)
	}
	if _, err := newSource(t, cfg, rdb, nil).Token(t.Context(), mailbox); err != nil {
		t.Fatal(err)
	}
}

// loadOAuth2 loads a config whose oauth2 section is section, through
// configload.Load, so that files are read and checked as in production.
func loadOAuth2(t *testing.T, section string) (*config.Config, error) {
	t.Helper()
	dir := t.TempDir()
	contacts := dir + "/contacts.yaml"
	if err := writeFile(contacts, "customers: []\n"); err != nil {
		t.Fatal(err)
	}
	cfgFile := dir + "/maildesk.yaml"
	err := writeFile(cfgFile, `desk:
  id: desk
  address: servicedesk@desk.example
imap:
  address: 127.0.0.1:143
  security: none
  username: servicedesk@desk.example
  auth: oauth2
smtp:
  address: 127.0.0.1:25
  security: none
oauth2:
  `+section+`
contacts_file: contacts.yaml
`)
	if err != nil {
		t.Fatal(err)
	}
	return configload.Load(cfgFile)
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

// Google's token endpoint answers a service account's refusal in a body
// that x/oauth2/jwt does not parse: the reason must still come through.
func TestServiceAccountRefusalReason(t *testing.T) {
	as := testserver.NewOAuthServer(t)
	key := as.AddServiceAccount(t, "sa@project.iam.gserviceaccount.com")
	as.Revoke("sa@project.iam.gserviceaccount.com")
	s := newSource(t, config.OAuth2{Provider: "google", Grant: config.GrantServiceAccount, ServiceAccount: key}, nil, nil)
	_, err := s.Token(t.Context(), mailbox)
	if err == nil || Reason(err) == "token_error" || !strings.Contains(err.Error(), "invalid_") && !strings.Contains(err.Error(), "unauthorized_client") {
		t.Errorf("refused service account: %v (reason %s)", err, Reason(err))
	}
}

// A caller whose context ends while another fetch runs stops waiting.
func TestTokenWaitHonoursContext(t *testing.T) {
	s := newSource(t, config.OAuth2{Provider: "generic", Grant: config.GrantClientCredentials, ClientID: "x", TokenURL: "http://127.0.0.1:1/token"}, nil, nil)
	s.fetching <- struct{}{} // a fetch in flight
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Token(ctx, mailbox); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Token while another fetch runs: %v", err)
	}
}
