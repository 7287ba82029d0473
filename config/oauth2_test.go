package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// oauthBase signs in to IMAP and SMTP with OAuth2; each case adds its
// oauth2 section.
const oauthBase = `desk:
  id: acme-it
  address: servicedesk@desk.example
imap:
  address: 127.0.0.1:143
  security: none
  username: servicedesk@desk.example
  auth: oauth2
smtp:
  address: 127.0.0.1:25
  security: none
  username: servicedesk@desk.example
  auth: oauth2
contacts_file: contacts.yaml
`

func testCertificate(t *testing.T) (certPEM, keyPEM, otherKeyPEM string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "maildesk"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk := func(k *rsa.PrivateKey) string {
		b, _ := x509.MarshalPKCS8PrivateKey(k)
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b}))
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), pk(key), pk(other)
}

func TestOAuth2Validation(t *testing.T) {
	certPEM, keyPEM, otherKeyPEM := testCertificate(t)
	key32 := base64.StdEncoding.EncodeToString(make([]byte, 32))
	files := map[string]string{
		"secret": "s3cret\n", "cert.pem": certPEM, "key.pem": keyPEM, "other.pem": otherKeyPEM,
		"token-key": key32 + "\n", "short-key": "c2hvcnQ=\n", "rt": "refresh-1\n",
		"sa.json":   `{"type":"service_account","client_email":"sa@p.iam.gserviceaccount.com","private_key":"x"}`,
		"user.json": `{"type":"authorized_user"}`,
	}
	tests := []struct {
		name, section string
		path, reason  string // "" = valid
	}{
		{"microsoft app-only with secret", "provider: microsoft\n  tenant: contoso.onmicrosoft.com\n  grant: client_credentials\n  client_id: c\n  client_secret_file: secret\n  client_secret_expires: 2027-06-30", "", ""},
		{"microsoft app-only with certificate", "provider: microsoft\n  tenant: t\n  grant: client_credentials\n  client_id: c\n  certificate_file: cert.pem\n  private_key_file: key.pem", "", ""},
		{"microsoft device code", "provider: microsoft\n  tenant: organizations\n  grant: device_code\n  client_id: c\n  token_key_file: token-key", "", ""},
		{"google service account", "provider: google\n  grant: service_account\n  service_account_file: sa.json\n  mechanism: oauthbearer", "", ""},
		{"generic refresh token", "provider: generic\n  grant: refresh_token\n  client_id: c\n  token_url: https://sso.example/token\n  refresh_token_file: rt\n  token_key_file: token-key", "", ""},

		{"no provider", "grant: client_credentials", "oauth2.provider", "is required"},
		{"unknown provider", "provider: okta\n  grant: client_credentials", "oauth2.provider", "must be one of microsoft, google, generic"},
		{"grant of another provider", "provider: google\n  grant: device_code", "oauth2.grant", "must be one of service_account, refresh_token"},
		{"common tenant for app-only", "provider: microsoft\n  tenant: common\n  grant: client_credentials\n  client_id: c\n  client_secret_file: secret", "oauth2.tenant", "must name your tenant"},
		{"no tenant", "provider: microsoft\n  grant: client_credentials\n  client_id: c\n  client_secret_file: secret", "oauth2.tenant", "is required"},
		{"no secret", "provider: microsoft\n  tenant: t\n  grant: client_credentials\n  client_id: c", "oauth2.client_secret_file", "is required"},
		{"secret and certificate", "provider: microsoft\n  tenant: t\n  grant: client_credentials\n  client_id: c\n  client_secret_file: secret\n  certificate_file: cert.pem\n  private_key_file: key.pem", "oauth2.client_secret_file", "not both"},
		{"key of another certificate", "provider: microsoft\n  tenant: t\n  grant: client_credentials\n  client_id: c\n  certificate_file: cert.pem\n  private_key_file: other.pem", "oauth2.private_key_file", "is not the key of the certificate"},
		{"certificate not PEM", "provider: microsoft\n  tenant: t\n  grant: client_credentials\n  client_id: c\n  certificate_file: secret\n  private_key_file: key.pem", "oauth2.certificate_file", "no PEM CERTIFICATE"},
		{"missing secret file", "provider: microsoft\n  tenant: t\n  grant: client_credentials\n  client_id: c\n  client_secret_file: nope", "oauth2.client_secret_file", "cannot read"},
		{"bad expiry", "provider: microsoft\n  tenant: t\n  grant: client_credentials\n  client_id: c\n  client_secret_file: secret\n  client_secret_expires: 30-06-2027", "oauth2.client_secret_expires", "must be a date"},
		{"oauthbearer at microsoft", "provider: microsoft\n  tenant: t\n  grant: client_credentials\n  client_id: c\n  client_secret_file: secret\n  mechanism: oauthbearer", "oauth2.mechanism", "must be xoauth2 for Microsoft"},
		{"unknown mechanism", "provider: google\n  grant: service_account\n  service_account_file: sa.json\n  mechanism: plain", "oauth2.mechanism", "must be one of xoauth2, oauthbearer"},
		{"no token key", "provider: microsoft\n  tenant: t\n  grant: device_code\n  client_id: c", "oauth2.token_key_file", "is required"},
		{"short token key", "provider: microsoft\n  tenant: t\n  grant: device_code\n  client_id: c\n  token_key_file: short-key", "oauth2.token_key_file", "must hold 32 random bytes"},
		{"token key for app-only", "provider: microsoft\n  tenant: t\n  grant: client_credentials\n  client_id: c\n  client_secret_file: secret\n  token_key_file: token-key", "oauth2.token_key_file", "used with the refresh_token and device_code grants only"},
		{"no refresh token", "provider: generic\n  grant: refresh_token\n  client_id: c\n  token_url: https://sso.example/token\n  token_key_file: token-key", "oauth2.refresh_token_file", "is required"},
		{"generic without token url", "provider: generic\n  grant: client_credentials\n  client_id: c\n  client_secret_file: secret", "oauth2.token_url", "is required"},
		{"plain http token url", "provider: generic\n  grant: client_credentials\n  client_id: c\n  client_secret_file: secret\n  token_url: http://sso.example/token", "oauth2.token_url", "must use https"},
		{"user key instead of service account", "provider: google\n  grant: service_account\n  service_account_file: user.json", "oauth2.service_account_file", "must be a key of type service_account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ps := parseWith(t, oauthBase+"oauth2:\n  "+tt.section+"\n", files, nil)
			if tt.path == "" {
				if ps != nil {
					t.Fatalf("unexpected problems:\n%v", ps)
				}
				if !cfg.OAuth2Enabled() {
					t.Error("OAuth2Enabled = false")
				}
				return
			}
			for _, p := range ps {
				if p.Path == tt.path && strings.Contains(p.Reason, tt.reason) {
					return
				}
			}
			t.Errorf("want %s: %s..., got:\n%v", tt.path, tt.reason, ps)
		})
	}
}

func TestOAuth2Loaded(t *testing.T) {
	certPEM, keyPEM, _ := testCertificate(t)
	cfg, ps := parseWith(t, oauthBase+"oauth2:\n  provider: microsoft\n  tenant: t\n  grant: client_credentials\n  client_id: c\n  certificate_file: cert.pem\n  private_key_file: key.pem\nalerts:\n  to: [ops@desk.example]\n",
		map[string]string{"cert.pem": certPEM, "key.pem": keyPEM}, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	o := cfg.OAuth2
	if o.Certificate == nil || o.PrivateKey == nil || o.Mechanism != "xoauth2" || cfg.Alerts.After.D() != 15*time.Minute {
		t.Errorf("loaded: cert %v key %v mechanism %q after %v", o.Certificate != nil, o.PrivateKey != nil, o.Mechanism, cfg.Alerts.After)
	}
	r := cfg.Redacted()
	if r.OAuth2.PrivateKey != nil {
		t.Error("Redacted keeps the private key")
	}
}

// Keys of the oauth2 section while nothing uses OAuth2 are a forgotten
// imap.auth; a password with auth oauth2 is a contradiction.
func TestOAuth2Consistency(t *testing.T) {
	_, ps := parseWith(t, base+"oauth2:\n  provider: microsoft\n", nil, nil)
	if !hasProblem(ps, "oauth2.provider", "neither imap.auth nor smtp.auth is oauth2") {
		t.Errorf("forgotten auth: %v", ps)
	}
	_, ps = parseWith(t, strings.Replace(base, "  password: secret\n", "  password: secret\n  auth: oauth2\n", 1)+
		"oauth2:\n  provider: google\n  grant: service_account\n  service_account_file: sa.json\n",
		map[string]string{"sa.json": `{"type":"service_account","client_email":"a@b","private_key":"k"}`}, nil)
	if !hasProblem(ps, "imap.password", "must not be set with auth oauth2") {
		t.Errorf("password with oauth2: %v", ps)
	}
	_, ps = parseWith(t, strings.Replace(oauthBase, "  username: servicedesk@desk.example\n  auth: oauth2\ncontacts", "  auth: oauth2\ncontacts", 1)+
		"oauth2:\n  provider: google\n  grant: service_account\n  service_account_file: sa.json\n",
		map[string]string{"sa.json": `{"type":"service_account","client_email":"a@b","private_key":"k"}`}, nil)
	if !hasProblem(ps, "smtp.username", "is required") {
		t.Errorf("smtp oauth2 without username: %v", ps)
	}
	_, ps = parseWith(t, strings.Replace(oauthBase, "127.0.0.1:143", "imap.example.com:143", 1)+
		"oauth2:\n  provider: google\n  grant: service_account\n  service_account_file: sa.json\n",
		map[string]string{"sa.json": `{"type":"service_account","client_email":"a@b","private_key":"k"}`}, nil)
	if !hasProblem(ps, "imap.security", "the access token would cross the network in clear") || hasProblem(ps, "smtp.security", "") {
		t.Errorf("token in clear: %v", ps)
	}
	_, ps = parseWith(t, base+"alerts:\n  to: [not an address]\n  after: 10ms\n", nil, nil)
	if !hasProblem(ps, "alerts.to[0]", "not a valid e-mail address") || !hasProblem(ps, "alerts.after", "at least 1s") {
		t.Errorf("alerts: %v", ps)
	}
}

func hasProblem(ps Problems, path, reason string) bool {
	for _, p := range ps {
		if p.Path == path && strings.Contains(p.Reason, reason) {
			return true
		}
	}
	return false
}
