package testserver

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Grant types as they appear in token requests (the keys of Requests).
const (
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// ClientAssertionType is the client_assertion_type of a certificate
// credential (RFC 7523).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// deviceCodeLifetime is Microsoft's: a user has 15 minutes to enter the code.
const deviceCodeLifetime = 15 * time.Minute

// OAuthServer is an OAuth2 authorization server on loopback HTTP that
// behaves like Microsoft Entra ID (and, for service accounts, Google) as far
// as a mail client sees it. Its access tokens are HS256 JWTs that a Dovecot
// started with DovecotWith(t, DovecotOptions{OAuth: s}) accepts for
// XOAUTH2 and OAUTHBEARER.
//
// Client authentication: client_secret_basic and client_secret_post both,
// or a client assertion (certificate credential). Errors are RFC 6749 5.2
// JSON; descriptions carry Entra ID's AADSTS codes where its answer is known
// (wrong or revoked secret AADSTS7000215, unknown app AADSTS700016, expired
// assertion AADSTS700024, used refresh token AADSTS70008 ...), so that code
// under test meets the texts it will log in production. Like Entra ID, an
// unknown client id is unauthorized_client (HTTP 400), not invalid_client.
type OAuthServer struct {
	URL           string
	TokenURL      string // URL + "/token"
	DeviceAuthURL string // URL + "/devicecode"
	Issuer        string // the iss claim of access tokens (= URL)
	Key           []byte // HS256 key of access tokens

	srv *httptest.Server

	mu         sync.Mutex
	lifetime   time.Duration
	clients    map[string]*oauthClient
	refresh    map[string]refreshGrant // refresh token -> grant
	devices    map[string]*deviceGrant // device_code -> grant
	userCodes  map[string]*deviceGrant // user_code -> grant
	requests   map[string]int
	issued     map[string]int
	lastScopes map[string]string
}

type clientKind int

const (
	secretClient   clientKind = iota // client_credentials with a secret
	certClient                       // client_credentials with a certificate
	publicClient                     // delegated: refresh_token, device_code
	serviceAccount                   // Google service account, jwt-bearer
)

type oauthClient struct {
	id      string
	kind    clientKind
	secret  string
	cert    *x509.Certificate
	key     *rsa.PublicKey // service account
	mailbox string         // app-only clients: whose mailbox the token opens
	revoked bool
}

type refreshGrant struct {
	clientID, mailbox, scope string
}

type deviceGrant struct {
	clientID, scope string
	deviceCode      string
	userCode        string
	expires         time.Time
	mailbox         string // set by ApproveDevice
	denied          bool
}

// oauthError is an RFC 6749 5.2 error answer.
type oauthError struct {
	status int
	code   string
	desc   string
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func badRequest(code, format string, args ...any) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: code, desc: fmt.Sprintf(format, args...)}
}

func invalidClient(format string, args ...any) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: fmt.Sprintf(format, args...)}
}

// NewOAuthServer starts an authorization server with a fresh random HMAC
// key; the test's cleanup stops it.
func NewOAuthServer(t testing.TB) *OAuthServer {
	t.Helper()
	s := &OAuthServer{
		Key:        make([]byte, 32),
		lifetime:   time.Hour,
		clients:    map[string]*oauthClient{},
		refresh:    map[string]refreshGrant{},
		devices:    map[string]*deviceGrant{},
		userCodes:  map[string]*deviceGrant{},
		requests:   map[string]int{},
		issued:     map[string]int{},
		lastScopes: map[string]string{},
	}
	if _, err := rand.Read(s.Key); err != nil {
		t.Fatalf("testserver: oauth: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/token", s.handleToken)
	mux.HandleFunc("/devicecode", s.handleDeviceCode)
	mux.HandleFunc("/device", func(w http.ResponseWriter, _ *http.Request) {
		// Where a person would enter the user code; tests call ApproveDevice.
		fmt.Fprintln(w, "testserver: approve device codes with OAuthServer.ApproveDevice")
	})
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	s.TokenURL = s.URL + "/token"
	s.DeviceAuthURL = s.URL + "/devicecode"
	s.Issuer = s.URL
	t.Cleanup(s.srv.Close)
	return s
}

// SetLifetime sets the lifetime of the access tokens handed out from now
// on (expires_in of the answer, whole seconds: below one second it reads as
// "no expiry" to golang.org/x/oauth2); the default is one hour. Note that
// x/oauth2 renews a token 10 s before it expires, so with lifetimes under
// 10 s every Token() call makes a token request.
func (s *OAuthServer) SetLifetime(d time.Duration) {
	s.mu.Lock()
	s.lifetime = d
	s.mu.Unlock()
}

// AddClient registers an app-only client (client_credentials with a client
// secret) whose tokens open mailbox.
func (s *OAuthServer) AddClient(id, secret, mailbox string) {
	s.addClient(&oauthClient{id: id, kind: secretClient, secret: secret, mailbox: mailbox})
}

// AddCertClient registers an app-only client that authenticates with a
// client assertion signed by cert's key (Microsoft's certificate
// credentials); its tokens open mailbox.
func (s *OAuthServer) AddCertClient(id string, cert *x509.Certificate, mailbox string) {
	s.addClient(&oauthClient{id: id, kind: certClient, cert: cert, mailbox: mailbox})
}

// AddPublicClient registers a client for delegated sign-in (refresh_token
// and device_code grants). secret "" makes it a public client, which sends
// only its id; otherwise the secret is required.
func (s *OAuthServer) AddPublicClient(id, secret string) {
	s.addClient(&oauthClient{id: id, kind: publicClient, secret: secret})
}

func (s *OAuthServer) addClient(c *oauthClient) {
	s.mu.Lock()
	s.clients[c.id] = c
	s.mu.Unlock()
}

// IssueRefreshToken returns a refresh token of clientID for mailbox, as if
// the user had signed in interactively. Refresh tokens rotate: every
// refresh_token grant answers a new one and revokes the one it used.
func (s *OAuthServer) IssueRefreshToken(clientID, mailbox string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newRefreshToken(clientID, mailbox, "")
}

func (s *OAuthServer) newRefreshToken(clientID, mailbox, scope string) string {
	rt := "rt." + randomString(24)
	s.refresh[rt] = refreshGrant{clientID: clientID, mailbox: mailbox, scope: scope}
	return rt
}

// ApproveDevice completes the sign-in a device-code poll waits for, as the
// user mailbox; the next poll gets the tokens.
func (s *OAuthServer) ApproveDevice(userCode, mailbox string) error {
	return s.decideDevice(userCode, mailbox, false)
}

// DenyDevice declines the sign-in: the next poll answers access_denied.
func (s *OAuthServer) DenyDevice(userCode string) error {
	return s.decideDevice(userCode, "", true)
}

func (s *OAuthServer) decideDevice(userCode, mailbox string, deny bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.userCodes[userCode]
	switch {
	case g == nil:
		return fmt.Errorf("testserver: oauth: unknown user code %q", userCode)
	case time.Now().After(g.expires):
		return fmt.Errorf("testserver: oauth: user code %q expired", userCode)
	case g.mailbox != "" || g.denied:
		return fmt.Errorf("testserver: oauth: user code %q already decided", userCode)
	}
	g.mailbox, g.denied = mailbox, deny
	return nil
}

// AddServiceAccount registers a Google service account allowed domain-wide
// delegation and returns its JSON key file, as the Google Cloud console
// hands it out (golang.org/x/oauth2/google.JWTConfigFromJSON reads it).
// Its token_uri is s.TokenURL. The client id of the account for Revoke and
// Requests is clientEmail.
func (s *OAuthServer) AddServiceAccount(t testing.TB, clientEmail string) (keyJSON []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("testserver: oauth: service account key: %v", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testserver: oauth: service account key: %v", err)
	}
	numericID, err := rand.Int(rand.Reader, new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil))
	if err != nil {
		t.Fatalf("testserver: oauth: %v", err)
	}
	project := "testserver"
	if _, domain, ok := strings.Cut(clientEmail, "@"); ok {
		project, _, _ = strings.Cut(domain, ".")
	}
	keyJSON, err = json.MarshalIndent(map[string]string{
		"type":           "service_account",
		"project_id":     project,
		"private_key_id": randomHex(20),
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   clientEmail,
		"client_id":      "1" + fmt.Sprintf("%020s", numericID.String()),
		"token_uri":      s.TokenURL,
	}, "", "  ")
	if err != nil {
		t.Fatalf("testserver: oauth: %v", err)
	}
	s.addClient(&oauthClient{id: clientEmail, kind: serviceAccount, key: &key.PublicKey})
	return keyJSON
}

// Revoke makes every request of the client fail from now on with
// invalid_client and Microsoft's answer to a deleted or expired secret
// (AADSTS7000215, HTTP 401), whatever the grant. Tokens already handed out
// stay valid, as real ones do until they expire.
func (s *OAuthServer) Revoke(clientID string) { s.setRevoked(clientID, true) }

// Restore undoes Revoke.
func (s *OAuthServer) Restore(clientID string) { s.setRevoked(clientID, false) }

func (s *OAuthServer) setRevoked(clientID string, revoked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[clientID]; c != nil {
		c.revoked = revoked
	}
}

// Requests returns how many token requests with this grant_type were
// answered, refusals included. golang.org/x/oauth2 with the default
// AuthStyleAutoDetect sends a refused request twice (credentials in the
// header, then in the body), so a refusal may count two.
func (s *OAuthServer) Requests(grant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[grant]
}

// Issued returns how many access tokens the grant handed out.
func (s *OAuthServer) Issued(grant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued[grant]
}

// LastScope returns the scope parameter (claim, for jwt-bearer) of the
// latest token request with this grant, to check what a client asked for.
func (s *OAuthServer) LastScope(grant string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastScopes[grant]
}

// Mint returns an access token for mailbox valid for lifetime from now. A
// lifetime <= 0 gives a token that has already expired (issued an hour
// before its expiry), which Dovecot refuses.
func (s *OAuthServer) Mint(mailbox string, lifetime time.Duration) string {
	now := time.Now()
	exp := now.Add(lifetime)
	iat := now
	if lifetime <= 0 {
		// As a real token that has run out: issued before it expired, so
		// that only its expiry, not conflicting times, makes it invalid.
		iat = exp.Add(-time.Hour)
	}
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256"}`))
	claims, _ := json.Marshal(map[string]any{
		"sub":   mailbox,
		"email": mailbox,
		"iss":   s.Issuer,
		"iat":   iat.Unix(),
		"nbf":   iat.Unix(),
		"exp":   exp.Unix(),
	})
	input := header + "." + base64.RawURLEncoding.EncodeToString(claims)
	mac := hmac.New(sha256.New, s.Key)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// WriteCertificate creates a self-signed RSA certificate valid until
// notAfter (a time in the past gives an expired one) and writes it and its
// key (PKCS#8, "PRIVATE KEY") as PEM files into dir.
func WriteCertificate(t testing.TB, dir string, notAfter time.Time) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("testserver: certificate: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		t.Fatalf("testserver: certificate: %v", err)
	}
	notBefore := time.Now().Add(-time.Hour)
	if !notAfter.After(notBefore) {
		notBefore = notAfter.Add(-24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "maildesk test client " + serial.Text(16)},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testserver: certificate: %v", err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatalf("testserver: certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testserver: certificate: %v", err)
	}
	name := "client-" + serial.Text(16)
	certFile = filepath.Join(dir, name+".crt")
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatalf("testserver: certificate: %v", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatalf("testserver: certificate: %v", err)
	}
	return certFile, keyFile, cert
}

// ---- HTTP ----

func (s *OAuthServer) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeOAuthError(w, badRequest("invalid_request", "AADSTS900561: The endpoint only accepts POST requests."))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, badRequest("invalid_request", "AADSTS900144: malformed request body: %v", err))
		return
	}
	form := r.PostForm
	grant := form.Get("grant_type")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[grant]++
	var (
		resp map[string]any
		oerr *oauthError
	)
	switch grant {
	case GrantClientCredentials:
		resp, oerr = s.clientCredentials(r, form)
	case GrantRefreshToken:
		resp, oerr = s.refreshToken(r, form)
	case GrantDeviceCode:
		resp, oerr = s.deviceToken(r, form)
	case GrantJWTBearer:
		resp, oerr = s.jwtBearer(form)
	case "":
		oerr = badRequest("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
	default:
		oerr = badRequest("unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type '%s'.", grant)
	}
	if oerr != nil {
		if oerr.status == http.StatusUnauthorized && r.Header.Get("Authorization") != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="testserver"`)
		}
		writeOAuthError(w, oerr)
		return
	}
	s.issued[grant]++
	writeJSON(w, http.StatusOK, resp)
}

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	writeJSON(w, e.status, map[string]any{"error": e.code, "error_description": e.desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// accessTokenResponse answers a successful grant; s.mu is held.
func (s *OAuthServer) accessTokenResponse(mailbox, scope string) map[string]any {
	resp := map[string]any{
		"token_type":     "Bearer",
		"access_token":   s.Mint(mailbox, s.lifetime),
		"expires_in":     int64(s.lifetime / time.Second),
		"ext_expires_in": int64(s.lifetime / time.Second),
	}
	if scope != "" {
		resp["scope"] = scope
	}
	return resp
}

// authenticate finds and checks the client of a token request by
// client_secret_basic, client_secret_post or a client assertion; s.mu is
// held.
func (s *OAuthServer) authenticate(r *http.Request, form url.Values) (*oauthClient, *oauthError) {
	id, secret, inHeader := r.BasicAuth()
	if inHeader {
		// RFC 6749 2.3.1: form-encoded before Basic; x/oauth2 does so.
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return nil, badRequest("invalid_request", "client_id %q in the body differs from %q in the Authorization header.", fid, id)
		}
		if form.Has("client_secret") {
			return nil, badRequest("invalid_request", "The client secret was sent both in the Authorization header and in the body.")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	assertionType, assertion := form.Get("client_assertion_type"), form.Get("client_assertion")
	if id == "" && assertion != "" {
		// client_id is optional with an assertion: its iss names the client.
		if p, err := parseJWT(assertion); err == nil {
			id = p.str("iss")
		}
	}
	if id == "" {
		return nil, badRequest("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'client_id'.")
	}
	c := s.clients[id]
	if c == nil {
		return nil, badRequest("unauthorized_client", "AADSTS700016: Application with identifier '%s' was not found in the directory 'testserver'. "+
			"This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", id)
	}
	if c.revoked {
		return nil, errSecretRevoked(id)
	}
	switch c.kind {
	case certClient:
		if assertion == "" {
			return nil, invalidClient("AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		}
		if assertionType != ClientAssertionType {
			return nil, badRequest("invalid_request", "AADSTS50027: client_assertion_type must be %q, not %q.", ClientAssertionType, assertionType)
		}
		if err := s.checkClientAssertion(c, assertion); err != nil {
			return nil, err
		}
		return c, nil
	case serviceAccount:
		return nil, badRequest("unauthorized_client", "Client %s is a service account: it signs in with the jwt-bearer grant only.", id)
	}
	if assertion != "" {
		return nil, invalidClient("AADSTS700027: Client assertion failed signature validation: no certificate is registered on application '%s'.", id)
	}
	switch {
	case c.secret == "" && secret != "":
		return nil, invalidClient("AADSTS700025: Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
	case c.secret != "" && secret == "":
		return nil, invalidClient("AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	case !hmac.Equal([]byte(secret), []byte(c.secret)):
		return nil, errSecretRevoked(id)
	}
	return c, nil
}

// errSecretRevoked is Microsoft's answer to a wrong, expired or deleted
// client secret.
func errSecretRevoked(id string) *oauthError {
	return invalidClient("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "+
		"not the client secret ID, for a secret added to app '%s'.", id)
}

func (s *OAuthServer) clientCredentials(r *http.Request, form url.Values) (map[string]any, *oauthError) {
	c, err := s.authenticate(r, form)
	if err != nil {
		return nil, err
	}
	scope := form.Get("scope")
	s.lastScopes[GrantClientCredentials] = scope
	if c.kind == publicClient {
		return nil, badRequest("unauthorized_client", "AADSTS700025: Client '%s' is public: the client_credentials grant needs an app with a secret or certificate.", c.id)
	}
	return s.accessTokenResponse(c.mailbox, scope), nil
}

func (s *OAuthServer) refreshToken(r *http.Request, form url.Values) (map[string]any, *oauthError) {
	c, err := s.authenticate(r, form)
	if err != nil {
		return nil, err
	}
	rt := form.Get("refresh_token")
	g, ok := s.refresh[rt]
	scope := form.Get("scope")
	s.lastScopes[GrantRefreshToken] = scope
	switch {
	case rt == "":
		return nil, badRequest("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'refresh_token'.")
	case !ok:
		return nil, badRequest("invalid_grant", "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity, "+
			"or it was already used or revoked. Send a new interactive authorization request for this user and resource.")
	case g.clientID != c.id:
		return nil, badRequest("invalid_grant", "AADSTS70000: Provided grant is invalid or malformed: the refresh token was issued to application '%s', not to '%s'.", g.clientID, c.id)
	}
	delete(s.refresh, rt)
	if scope == "" {
		scope = g.scope
	}
	resp := s.accessTokenResponse(g.mailbox, scope)
	resp["refresh_token"] = s.newRefreshToken(c.id, g.mailbox, scope)
	return resp, nil
}

func (s *OAuthServer) handleDeviceCode(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeOAuthError(w, badRequest("invalid_request", "AADSTS900561: The endpoint only accepts POST requests."))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, badRequest("invalid_request", "AADSTS900144: malformed request body: %v", err))
		return
	}
	id := r.PostForm.Get("client_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[id]
	switch {
	case id == "":
		writeOAuthError(w, badRequest("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'client_id'."))
		return
	case c == nil:
		writeOAuthError(w, badRequest("unauthorized_client", "AADSTS700016: Application with identifier '%s' was not found in the directory 'testserver'.", id))
		return
	case c.revoked:
		writeOAuthError(w, errSecretRevoked(id))
		return
	case c.kind != publicClient:
		writeOAuthError(w, badRequest("unauthorized_client", "AADSTS70002: The provided client is not supported for this feature. "+
			"The client application must be marked as 'mobile.' (app '%s' does not allow public client flows)", id))
		return
	}
	g := &deviceGrant{
		clientID:   id,
		scope:      r.PostForm.Get("scope"),
		deviceCode: "dc." + randomString(24),
		userCode:   s.newUserCode(),
		expires:    time.Now().Add(deviceCodeLifetime),
	}
	s.devices[g.deviceCode] = g
	s.userCodes[g.userCode] = g
	verification := s.URL + "/device"
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":      g.deviceCode,
		"user_code":        g.userCode,
		"verification_uri": verification,
		"expires_in":       int64(deviceCodeLifetime / time.Second),
		"interval":         1,
		"message": fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.",
			verification, g.userCode),
	})
}

func (s *OAuthServer) deviceToken(r *http.Request, form url.Values) (map[string]any, *oauthError) {
	c, err := s.authenticate(r, form)
	if err != nil {
		return nil, err
	}
	g := s.devices[form.Get("device_code")]
	switch {
	case g == nil:
		return nil, badRequest("invalid_grant", "AADSTS70000: Provided grant is invalid or malformed: the device code is unknown or was already redeemed.")
	case g.clientID != c.id:
		return nil, badRequest("invalid_grant", "AADSTS70000: Provided grant is invalid or malformed: the device code was issued to application '%s', not to '%s'.", g.clientID, c.id)
	case time.Now().After(g.expires):
		return nil, badRequest("expired_token", "AADSTS70020: The provided value for the input parameter 'device_code' is not valid. This device code has expired.")
	case g.denied:
		s.forgetDevice(g)
		// Entra ID says authorization_declined here; RFC 8628 and
		// x/oauth2 know access_denied.
		return nil, badRequest("access_denied", "The end user denied the authorization request.")
	case g.mailbox == "":
		return nil, badRequest("authorization_pending", "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
	}
	s.forgetDevice(g)
	s.lastScopes[GrantDeviceCode] = g.scope
	resp := s.accessTokenResponse(g.mailbox, g.scope)
	resp["refresh_token"] = s.newRefreshToken(c.id, g.mailbox, g.scope)
	return resp, nil
}

func (s *OAuthServer) forgetDevice(g *deviceGrant) {
	delete(s.devices, g.deviceCode)
	delete(s.userCodes, g.userCode)
}

// jwtBearer is Google's service-account grant (RFC 7523 2.1): the
// assertion names the account (iss) and the user to act as (sub).
func (s *OAuthServer) jwtBearer(form url.Values) (map[string]any, *oauthError) {
	p, err := parseJWT(form.Get("assertion"))
	if err != nil {
		return nil, badRequest("invalid_grant", "Invalid JWT: %v", err)
	}
	email := p.str("iss")
	c := s.clients[email]
	switch {
	case c == nil || c.kind != serviceAccount:
		return nil, badRequest("invalid_grant", "Invalid grant: account not found")
	case c.revoked:
		return nil, errSecretRevoked(email)
	case p.str("alg") != "RS256":
		return nil, badRequest("invalid_grant", "Invalid JWT Signature.")
	}
	if err := p.verifyRS256(c.key); err != nil {
		return nil, badRequest("invalid_grant", "Invalid JWT Signature.")
	}
	scope := p.str("scope")
	s.lastScopes[GrantJWTBearer] = scope
	now := time.Now().Unix()
	iat, exp := p.num("iat"), p.num("exp")
	switch {
	case !p.audience(s.TokenURL):
		return nil, badRequest("invalid_grant", "Invalid JWT: Failed audience check. The right audience is %s", s.TokenURL)
	case iat == 0 || exp == 0 || exp <= now || iat > now+60 || exp-iat > 3600:
		return nil, badRequest("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "+
			"Check your iat and exp values in the JWT claim.")
	case scope == "":
		return nil, badRequest("invalid_scope", "Empty or missing scope not allowed.")
	}
	mailbox := p.str("sub")
	if mailbox == "" {
		mailbox = p.str("prn")
	}
	if mailbox == "" {
		mailbox = email
	}
	return s.accessTokenResponse(mailbox, ""), nil
}

// checkClientAssertion verifies a certificate credential the way Entra ID
// does: RS256, the certificate named by its thumbprint, the token endpoint
// as audience, iss = sub = client id, and valid now.
func (s *OAuthServer) checkClientAssertion(c *oauthClient, assertion string) *oauthError {
	p, err := parseJWT(assertion)
	if err != nil {
		return invalidClient("AADSTS50027: JWT token is invalid or malformed: %v", err)
	}
	if alg := p.str("alg"); alg != "RS256" {
		return invalidClient("AADSTS5002738: Invalid JWT token. '%s' is not a supported signature algorithm.", alg)
	}
	sum256 := sha256.Sum256(c.cert.Raw)
	sum1 := sha1.Sum(c.cert.Raw)
	x5tS256, x5t := p.header["x5t#S256"], p.header["x5t"]
	switch {
	case x5tS256 == nil && x5t == nil:
		return invalidClient("AADSTS700027: The client assertion has neither an x5t#S256 nor an x5t header naming the certificate.")
	case x5tS256 != nil && !thumbprintIs(x5tS256, sum256[:]), x5tS256 == nil && !thumbprintIs(x5t, sum1[:]):
		return invalidClient("AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. "+
			"[Reason - The key was not found., Thumbprint of key used by client: '%v']", firstNonNil(x5tS256, x5t))
	}
	if time.Now().After(c.cert.NotAfter) {
		return invalidClient("AADSTS700027: The certificate with identifier used to sign the client assertion is expired on application '%s' "+
			"(not after %s).", c.id, c.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	pub, ok := c.cert.PublicKey.(*rsa.PublicKey)
	if !ok || p.verifyRS256(pub) != nil {
		return invalidClient("AADSTS700027: Client assertion failed signature validation.")
	}
	now := time.Now().Unix()
	nbf, exp := p.num("nbf"), p.num("exp")
	switch {
	case !p.audience(s.TokenURL):
		return invalidClient("AADSTS50027: JWT token is invalid or malformed: the audience claim of the client assertion must be the token endpoint %s.", s.TokenURL)
	case p.str("iss") != c.id || p.str("sub") != c.id:
		return invalidClient("AADSTS50027: JWT token is invalid or malformed: issuer and subject must be the client id '%s' (iss %q, sub %q).",
			c.id, p.str("iss"), p.str("sub"))
	case p.str("jti") == "":
		return invalidClient("AADSTS50027: JWT token is invalid or malformed: the client assertion has no jti claim.")
	case exp == 0 || exp <= now || nbf > now:
		return invalidClient("AADSTS700024: Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, "+
			"expiry time of assertion %s.", time.Unix(now, 0).UTC().Format(time.RFC3339),
			time.Unix(nbf, 0).UTC().Format(time.RFC3339), time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

func thumbprintIs(v any, sum []byte) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	return err == nil && hmac.Equal(got, sum)
}

func firstNonNil(vs ...any) any {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// ---- JWT ----

type parsedJWT struct {
	header, claims map[string]any
	signingInput   string
	sig            []byte
}

func parseJWT(tok string) (*parsedJWT, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT (want three dot-separated parts)")
	}
	p := &parsedJWT{signingInput: parts[0] + "." + parts[1]}
	for i, dst := range []*map[string]any{&p.header, &p.claims} {
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[i], "="))
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", i+1, err)
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil {
			return nil, fmt.Errorf("part %d: %w", i+1, err)
		}
	}
	var err error
	if p.sig, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "=")); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return p, nil
}

// str returns a string claim, or for "alg" the header field.
func (p *parsedJWT) str(name string) string {
	m := p.claims
	if name == "alg" {
		m = p.header
	}
	s, _ := m[name].(string)
	return s
}

// num returns a NumericDate claim in Unix seconds, 0 when missing.
func (p *parsedJWT) num(name string) int64 {
	n, ok := p.claims[name].(json.Number)
	if !ok {
		return 0
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	f, _ := n.Float64()
	return int64(f)
}

// audience reports whether aud, a string or an array, contains want.
func (p *parsedJWT) audience(want string) bool {
	switch aud := p.claims["aud"].(type) {
	case string:
		return aud == want
	case []any:
		for _, a := range aud {
			if a == want {
				return true
			}
		}
	}
	return false
}

func (p *parsedJWT) verifyRS256(pub *rsa.PublicKey) error {
	h := sha256.Sum256([]byte(p.signingInput))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], p.sig)
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUserCode is short and unambiguous, as people type it: 8 letters
// without I and O; s.mu is held.
func (s *OAuthServer) newUserCode() string {
	const letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	for {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		for i := range b {
			b[i] = letters[int(b[i])%len(letters)]
		}
		if code := string(b[:4]) + "-" + string(b[4:]); s.userCodes[code] == nil {
			return code
		}
	}
}
