package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/maildesk/maildesk/address"
)

// The keys of the oauth2 section that may carry a value; any of them set
// while nothing signs in with OAuth2 is a forgotten imap.auth or smtp.auth.
var oauth2Keys = []string{"provider", "grant", "tenant", "client_id", "client_secret_file", "client_secret_expires", "certificate_file",
	"private_key_file", "service_account_file", "token_url", "device_auth_url", "scopes", "refresh_token_file", "token_key_file"}

// TokenKeySize is the AES-256 key length of oauth2.token_key_file.
const TokenKeySize = 32

func (l *loader) validateOAuth2() {
	c, o := l.c, &l.cfg.OAuth2
	if !l.cfg.OAuth2Enabled() {
		for _, k := range oauth2Keys {
			if l.c.Set("oauth2." + k) {
				c.Add("oauth2."+k, "is set, but neither imap.auth nor smtp.auth is oauth2")
				return
			}
		}
		return
	}
	l.oneOf("oauth2.mechanism", o.Mechanism, "xoauth2", "oauthbearer")
	// A bearer token is as good as a password to whoever reads it.
	for _, side := range []struct{ name, auth, security, address string }{
		{"imap", l.cfg.IMAP.Auth, l.cfg.IMAP.Security, l.cfg.IMAP.Address},
		{"smtp", l.cfg.SMTP.Auth, l.cfg.SMTP.Security, l.cfg.SMTP.Address},
	} {
		if side.auth == AuthOAuth2 && side.security == "none" && !LoopbackListen(side.address) {
			c.Addf(side.name+".security", "must be tls or starttls with auth oauth2: the access token would cross the network in clear (none only to a loopback address, got %s)", side.address)
		}
	}
	if !l.required("oauth2.provider", o.Provider) {
		return
	}
	grants, ok := OAuth2Grants[o.Provider]
	if !ok {
		l.oneOf("oauth2.provider", o.Provider, "microsoft", "google", "generic")
		return
	}
	if !l.required("oauth2.grant", o.Grant) {
		return
	}
	l.oneOf("oauth2.grant", o.Grant, grants...)
	if o.Provider == "microsoft" && o.Mechanism == "oauthbearer" {
		c.Add("oauth2.mechanism", "must be xoauth2 for Microsoft, whose servers do not offer OAUTHBEARER")
	}

	switch o.Provider {
	case "microsoft":
		if l.required("oauth2.tenant", o.Tenant) && o.Grant == GrantClientCredentials {
			switch strings.ToLower(o.Tenant) {
			case "common", "organizations", "consumers":
				c.Addf("oauth2.tenant", "must name your tenant (its id or a domain such as contoso.onmicrosoft.com) for client_credentials, not %q", o.Tenant)
			}
		}
	case "generic":
		l.required("oauth2.token_url", o.TokenURL)
		if o.Grant == GrantDeviceCode {
			l.required("oauth2.device_auth_url", o.DeviceAuthURL)
		}
	}
	l.endpointURL("oauth2.token_url", o.TokenURL)
	l.endpointURL("oauth2.device_auth_url", o.DeviceAuthURL)
	if o.Grant != GrantServiceAccount {
		l.required("oauth2.client_id", o.ClientID)
	}

	cert := o.CertificateFile != "" || o.PrivateKeyFile != ""
	switch o.Grant {
	case GrantClientCredentials:
		switch {
		case cert && o.ClientSecretFile != "":
			c.Add("oauth2.client_secret_file", "set either client_secret_file or certificate_file and private_key_file, not both")
		case cert:
			l.loadCertificate()
		default:
			l.required("oauth2.client_secret_file", o.ClientSecretFile)
		}
	case GrantServiceAccount:
		if l.required("oauth2.service_account_file", o.ServiceAccountFile) {
			l.loadServiceAccount()
		}
	case GrantRefreshToken:
		l.required("oauth2.refresh_token_file", o.RefreshTokenFile)
	}
	if o.Grant != GrantClientCredentials && cert {
		c.Add("oauth2.certificate_file", "is used with the client_credentials grant only")
	}
	if o.Grant == GrantServiceAccount && o.ClientSecretFile != "" {
		c.Add("oauth2.client_secret_file", "is not used with the service_account grant (the key is in service_account_file)")
	}
	if o.Grant != GrantRefreshToken && o.RefreshTokenFile != "" {
		c.Add("oauth2.refresh_token_file", "is used with the refresh_token grant only")
	}
	// A delegated app may be public (device flow) or confidential.
	l.readSecret("oauth2.client_secret_file", &o.ClientSecretFile, &o.ClientSecret)
	l.readSecret("oauth2.refresh_token_file", &o.RefreshTokenFile, &o.RefreshToken)
	if o.ClientSecretExpires != "" {
		if o.ClientSecretFile == "" {
			c.Add("oauth2.client_secret_expires", "is the expiry of the client secret: set client_secret_file too")
		} else if t, err := time.Parse(time.DateOnly, o.ClientSecretExpires); err != nil {
			c.Addf("oauth2.client_secret_expires", "must be a date like 2027-06-30 (got %q)", o.ClientSecretExpires)
		} else {
			o.SecretExpiresAt = t
		}
	}

	if o.Delegated() {
		if l.required("oauth2.token_key_file", o.TokenKeyFile) {
			l.loadTokenKey()
		}
	} else if o.TokenKeyFile != "" {
		c.Add("oauth2.token_key_file", "is used with the refresh_token and device_code grants only (nothing else is stored)")
	}
}

// endpointURL accepts https URLs, and http ones on loopback only: a token
// request carries the client secret or a refresh token.
func (l *loader) endpointURL(path, v string) {
	if v == "" {
		return
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		l.c.Addf(path, "must be an absolute https URL (got %q)", v)
		return
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !LoopbackListen(net.JoinHostPort(u.Hostname(), "0")) {
			l.c.Addf(path, "must use https (http only to localhost, got %q)", v)
		}
	default:
		l.c.Addf(path, "must be an absolute https URL (got %q)", v)
	}
}

func (l *loader) loadTokenKey() {
	o := &l.cfg.OAuth2
	var text string
	l.readSecret("oauth2.token_key_file", &o.TokenKeyFile, &text)
	if text == "" {
		return
	}
	text = strings.TrimSpace(text)
	key, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(key) != TokenKeySize {
		if k, herr := hex.DecodeString(text); herr == nil {
			key, err = k, nil
		}
	}
	if err != nil || len(key) != TokenKeySize {
		l.c.Addf("oauth2.token_key_file", "must hold %d random bytes, base64 or hex (make one with: openssl rand -base64 32)", TokenKeySize)
		return
	}
	o.TokenKey = key
}

func (l *loader) loadCertificate() {
	c, o := l.c, &l.cfg.OAuth2
	if !l.required("oauth2.certificate_file", o.CertificateFile) || !l.required("oauth2.private_key_file", o.PrivateKeyFile) {
		return
	}
	var certPEM, keyPEM string
	l.readSecret("oauth2.certificate_file", &o.CertificateFile, &certPEM)
	l.readSecret("oauth2.private_key_file", &o.PrivateKeyFile, &keyPEM)
	if certPEM == "" || keyPEM == "" {
		return
	}
	cert, err := parseCertificate([]byte(certPEM))
	if err != nil {
		c.Addf("oauth2.certificate_file", "%s: %v", o.CertificateFile, err)
		return
	}
	key, err := parsePrivateKey([]byte(keyPEM))
	if err != nil {
		c.Addf("oauth2.private_key_file", "%s: %v", o.PrivateKeyFile, err)
		return
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		c.Add("oauth2.private_key_file", "must be an RSA key: Microsoft signs in with RS256 assertions only")
		return
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(rk.Public()) {
		c.Addf("oauth2.private_key_file", "is not the key of the certificate in %s", o.CertificateFile)
		return
	}
	o.Certificate, o.PrivateKey = cert, rk
}

func parseCertificate(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("no PEM CERTIFICATE block")
		}
		if b.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing the certificate: %w", err)
			}
			return cert, nil
		}
	}
}

func parsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("no PEM PRIVATE KEY block (PKCS #8 or PKCS #1)")
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing the PKCS #8 key: %w", err)
			}
			switch k := k.(type) {
			case *rsa.PrivateKey:
				return k, nil
			case *ecdsa.PrivateKey:
				return k, nil
			case ed25519.PrivateKey:
				return k, nil
			}
			return nil, fmt.Errorf("unsupported key type %T", k)
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing the PKCS #1 key: %w", err)
			}
			return k, nil
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("the key is encrypted: export it without a passphrase (openssl pkcs8 -topk8 -nocrypt)")
		}
	}
}

// serviceAccountKey is the part of a Google service-account key file that is
// checked here; golang.org/x/oauth2/google reads the whole file.
type serviceAccountKey struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	TokenURI    string `json:"token_uri"`
}

func (l *loader) loadServiceAccount() {
	o := &l.cfg.OAuth2
	var text string
	l.readSecret("oauth2.service_account_file", &o.ServiceAccountFile, &text)
	if text == "" {
		return
	}
	var k serviceAccountKey
	if err := json.Unmarshal([]byte(text), &k); err != nil {
		l.c.Addf("oauth2.service_account_file", "is not a service-account key (JSON): %v", err)
		return
	}
	switch {
	case k.Type != "service_account":
		l.c.Addf("oauth2.service_account_file", "must be a key of type service_account (got %q): create a JSON key for the service account", k.Type)
	case k.ClientEmail == "" || k.PrivateKey == "":
		l.c.Add("oauth2.service_account_file", "lacks client_email or private_key")
	default:
		o.ServiceAccount = []byte(text)
	}
}

func (l *loader) validateAlerts() {
	a := &l.cfg.Alerts
	for i, to := range a.To {
		if err := address.CheckBare(to); err != nil {
			l.c.Add(fmt.Sprintf("alerts.to[%d]", i), err.Error())
		}
	}
	// Below a minute a routine reconnect (a server restart) raises the
	// alarm; allowed, for impatient operators and for tests.
	l.atLeast("alerts.after", a.After, time.Second)
}
