package testserver

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/jwt"
)

const (
	appOnlyScope = "https://outlook.office365.com/.default"
	googleScope  = "https://mail.google.com/"
)

// tokenClaims checks an access token the way Dovecot does (HS256 with the
// server's key, header, times) and returns its claims.
func tokenClaims(t *testing.T, s *OAuthServer, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a JWT", tok)
	}
	mac := hmac.New(sha256.New, s.Key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if got, _ := base64.RawURLEncoding.DecodeString(parts[2]); !hmac.Equal(got, mac.Sum(nil)) {
		t.Fatalf("access token signature does not verify with the server's key")
	}
	var header map[string]any
	decodePart(t, parts[0], &header)
	if header["alg"] != "HS256" || header["typ"] != "JWT" || len(header) != 2 {
		t.Errorf("header = %v, want exactly typ JWT, alg HS256", header)
	}
	var claims map[string]any
	decodePart(t, parts[1], &claims)
	now := float64(time.Now().Unix())
	if claims["iss"] != s.Issuer {
		t.Errorf("iss = %v, want %s", claims["iss"], s.Issuer)
	}
	for _, c := range []string{"sub", "email", "iat", "nbf", "exp"} {
		if claims[c] == nil {
			t.Errorf("claim %s missing: %v", c, claims)
		}
	}
	if iat, _ := claims["iat"].(float64); iat > now {
		t.Errorf("iat %v in the future", iat)
	}
	return claims
}

func decodePart(t *testing.T, part string, v any) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatalf("JWT part %q: %v", part, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("JWT part %s: %v", raw, err)
	}
}

// wantOAuthError checks that err is the server's RFC 6749 error answer.
func wantOAuthError(t *testing.T, err error, code string, status int, descPart string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want *oauth2.RetrieveError %s", err, code)
	}
	if re.ErrorCode == "" {
		// x/oauth2/jwt leaves the body unparsed.
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(re.Body, &body)
		re.ErrorCode, re.ErrorDescription = body.Error, body.Description
	}
	if re.ErrorCode != code || re.Response.StatusCode != status || !strings.Contains(re.ErrorDescription, descPart) {
		t.Errorf("error = %s (HTTP %d): %q; want %s (HTTP %d) with %q",
			re.ErrorCode, re.Response.StatusCode, re.ErrorDescription, code, status, descPart)
	}
}

func TestOAuthClientSecret(t *testing.T) {
	t.Parallel()
	s := NewOAuthServer(t)
	ctx := context.Background()
	// A secret with characters that client_secret_basic must form-encode.
	const secret = "s3cr+t/~x=y&z"
	s.AddClient("app", secret, "desk@desk.example")

	styles := map[string]oauth2.AuthStyle{
		"auto-detect":         oauth2.AuthStyleAutoDetect,
		"client_secret_basic": oauth2.AuthStyleInHeader,
		"client_secret_post":  oauth2.AuthStyleInParams,
	}
	for name, style := range styles {
		cfg := clientcredentials.Config{ClientID: "app", ClientSecret: secret, TokenURL: s.TokenURL,
			Scopes: []string{appOnlyScope}, AuthStyle: style}
		tok, err := cfg.Token(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tok.TokenType != "Bearer" || tok.RefreshToken != "" {
			t.Errorf("%s: token type %q, refresh token %q", name, tok.TokenType, tok.RefreshToken)
		}
		if d := time.Until(tok.Expiry); d < 59*time.Minute || d > time.Hour {
			t.Errorf("%s: expires in %v, want 1h", name, d)
		}
		claims := tokenClaims(t, s, tok.AccessToken)
		if claims["email"] != "desk@desk.example" {
			t.Errorf("%s: email = %v", name, claims["email"])
		}
		if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 3600 {
			t.Errorf("%s: exp - iat = %v", name, exp-iat)
		}
	}
	if got := s.Issued(GrantClientCredentials); got != 3 {
		t.Errorf("Issued = %d, want 3", got)
	}
	if got := s.LastScope(GrantClientCredentials); got != appOnlyScope {
		t.Errorf("LastScope = %q", got)
	}

	s.SetLifetime(2 * time.Minute)
	cfg := clientcredentials.Config{ClientID: "app", ClientSecret: secret, TokenURL: s.TokenURL, AuthStyle: oauth2.AuthStyleInParams}
	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(tok.Expiry); d < 110*time.Second || d > 2*time.Minute {
		t.Errorf("after SetLifetime(2m): expires in %v", d)
	}

	wrong := cfg
	wrong.ClientSecret = "old secret"
	_, err = wrong.Token(ctx)
	wantOAuthError(t, err, "invalid_client", http.StatusUnauthorized, "AADSTS7000215")

	unknown := cfg
	unknown.ClientID = "nobody"
	_, err = unknown.Token(ctx)
	wantOAuthError(t, err, "unauthorized_client", http.StatusBadRequest, "AADSTS700016")

	before := s.Requests(GrantClientCredentials)
	s.Revoke("app")
	_, err = cfg.Token(ctx)
	wantOAuthError(t, err, "invalid_client", http.StatusUnauthorized, "AADSTS7000215")
	if got := s.Requests(GrantClientCredentials); got != before+1 {
		t.Errorf("Requests = %d, want %d", got, before+1)
	}
	s.Restore("app")
	if _, err := cfg.Token(ctx); err != nil {
		t.Fatalf("after Restore: %v", err)
	}

	// A delegated client has no client_credentials grant.
	s.AddPublicClient("mobile", "")
	public := clientcredentials.Config{ClientID: "mobile", TokenURL: s.TokenURL, AuthStyle: oauth2.AuthStyleInParams}
	_, err = public.Token(ctx)
	wantOAuthError(t, err, "unauthorized_client", http.StatusBadRequest, "public")
}

// clientAssertion builds a certificate credential as Entra ID wants it.
type assertionSpec struct {
	key                *rsa.PrivateKey
	cert               *x509.Certificate
	sha1Thumbprint     bool
	clientID, aud      string
	notBefore, expires time.Time
}

func (a assertionSpec) sign(t *testing.T) string {
	t.Helper()
	header := map[string]any{"alg": "RS256", "typ": "JWT"}
	if a.sha1Thumbprint {
		sum := sha1.Sum(a.cert.Raw)
		header["x5t"] = base64.RawURLEncoding.EncodeToString(sum[:])
	} else {
		sum := sha256.Sum256(a.cert.Raw)
		header["x5t#S256"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	claims := map[string]any{
		"aud": a.aud, "iss": a.clientID, "sub": a.clientID, "jti": randomString(12),
		"nbf": a.notBefore.Unix(), "exp": a.expires.Unix(),
	}
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, a.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func readKey(t *testing.T, keyFile string) *rsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("%s: want a PEM PRIVATE KEY block", keyFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

func TestWriteCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notAfter := time.Now().Add(-time.Hour).Truncate(time.Second)
	certFile, keyFile, cert := WriteCertificate(t, dir, notAfter)
	if !cert.NotAfter.Equal(notAfter) || !cert.NotBefore.Before(cert.NotAfter) {
		t.Errorf("validity %v - %v, want until %v", cert.NotBefore, cert.NotAfter, notAfter)
	}
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: want a PEM CERTIFICATE", certFile)
	}
	fromFile, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !fromFile.Equal(cert) {
		t.Fatalf("certificate file differs from the returned one: %v", err)
	}
	if !readKey(t, keyFile).PublicKey.Equal(cert.PublicKey) {
		t.Errorf("key file does not belong to the certificate")
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
}

func TestOAuthCertificateClient(t *testing.T) {
	t.Parallel()
	s := NewOAuthServer(t)
	ctx := context.Background()
	dir := t.TempDir()
	_, keyFile, cert := WriteCertificate(t, dir, time.Now().Add(24*time.Hour))
	_, otherKeyFile, otherCert := WriteCertificate(t, dir, time.Now().Add(24*time.Hour))
	key, otherKey := readKey(t, keyFile), readKey(t, otherKeyFile)
	s.AddCertClient("cert-app", cert, "desk@desk.example")
	// Entra ID refuses assertions signed with an expired certificate.
	_, expiredKeyFile, expiredCert := WriteCertificate(t, dir, time.Now().Add(-time.Minute))
	s.AddCertClient("expired-app", expiredCert, "desk@desk.example")

	now := time.Now()
	good := assertionSpec{key: key, cert: cert, clientID: "cert-app", aud: s.TokenURL,
		notBefore: now, expires: now.Add(10 * time.Minute)}
	token := func(spec assertionSpec, clientID string) (*oauth2.Token, error) {
		cfg := clientcredentials.Config{ClientID: clientID, TokenURL: s.TokenURL, Scopes: []string{appOnlyScope},
			AuthStyle: oauth2.AuthStyleInParams,
			EndpointParams: url.Values{
				"client_assertion_type": {ClientAssertionType},
				"client_assertion":      {spec.sign(t)},
			}}
		return cfg.Token(ctx)
	}

	for _, sha1 := range []bool{false, true} {
		spec := good
		spec.sha1Thumbprint = sha1
		tok, err := token(spec, "cert-app")
		if err != nil {
			t.Fatalf("x5t (sha1 %v): %v", sha1, err)
		}
		if claims := tokenClaims(t, s, tok.AccessToken); claims["email"] != "desk@desk.example" {
			t.Errorf("email = %v", claims["email"])
		}
	}
	// client_id may be left out: the assertion's iss names the client.
	if _, err := token(good, ""); err != nil {
		t.Errorf("without client_id: %v", err)
	}
	// The auto-detected style sends an empty Basic password beside the
	// assertion; that works too.
	auto := clientcredentials.Config{ClientID: "cert-app", TokenURL: s.TokenURL, EndpointParams: url.Values{
		"client_assertion_type": {ClientAssertionType}, "client_assertion": {good.sign(t)}}}
	if _, err := auto.Token(ctx); err != nil {
		t.Errorf("auto-detected auth style: %v", err)
	}

	bad := map[string]struct {
		mutate func(*assertionSpec)
		id     string
		desc   string
	}{
		"expired assertion": {func(a *assertionSpec) {
			a.notBefore, a.expires = now.Add(-time.Hour), now.Add(-time.Minute)
		}, "cert-app", "AADSTS700024"},
		"not yet valid": {func(a *assertionSpec) { a.notBefore = now.Add(time.Hour) }, "cert-app", "AADSTS700024"},
		"wrong audience": {func(a *assertionSpec) {
			a.aud = "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"
		}, "cert-app", "audience"},
		"other key, registered thumbprint": {func(a *assertionSpec) { a.key = otherKey }, "cert-app", "signature validation"},
		"unregistered certificate":         {func(a *assertionSpec) { a.key, a.cert = otherKey, otherCert }, "cert-app", "not registered"},
		"iss of another client":            {func(a *assertionSpec) { a.clientID = "expired-app" }, "cert-app", "issuer and subject"},
		"expired certificate": {func(a *assertionSpec) {
			a.key, a.cert, a.clientID = readKey(t, expiredKeyFile), expiredCert, "expired-app"
		}, "expired-app", "expired"},
	}
	for name, c := range bad {
		spec := good
		c.mutate(&spec)
		_, err := token(spec, c.id)
		t.Run(name, func(t *testing.T) { wantOAuthError(t, err, "invalid_client", http.StatusUnauthorized, c.desc) })
	}

	// A secret is no way in for a certificate client.
	secretCfg := clientcredentials.Config{ClientID: "cert-app", ClientSecret: "guess", TokenURL: s.TokenURL, AuthStyle: oauth2.AuthStyleInParams}
	_, err := secretCfg.Token(ctx)
	wantOAuthError(t, err, "invalid_client", http.StatusUnauthorized, "AADSTS7000218")

	s.Revoke("cert-app")
	_, err = token(good, "cert-app")
	wantOAuthError(t, err, "invalid_client", http.StatusUnauthorized, "AADSTS7000215")
}

func TestOAuthRefreshTokenRotation(t *testing.T) {
	t.Parallel()
	s := NewOAuthServer(t)
	ctx := context.Background()
	s.AddPublicClient("mobile", "")
	first := s.IssueRefreshToken("mobile", "agent@desk.example")
	// x/oauth2 refreshes 10 s before expiry: with 1 s tokens every Token()
	// call refreshes.
	s.SetLifetime(time.Second)
	cfg := oauth2.Config{ClientID: "mobile", Endpoint: oauth2.Endpoint{TokenURL: s.TokenURL},
		Scopes: []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"}}
	ts := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: first})
	t1, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if claims := tokenClaims(t, s, t1.AccessToken); claims["email"] != "agent@desk.example" {
		t.Errorf("email = %v", claims["email"])
	}
	if t1.RefreshToken == "" || t1.RefreshToken == first {
		t.Fatalf("refresh token not rotated: %q", t1.RefreshToken)
	}
	t2, err := ts.Token() // the token source keeps the rotated token
	if err != nil {
		t.Fatal(err)
	}
	if t2.RefreshToken == t1.RefreshToken || t2.AccessToken == t1.AccessToken && t2.Expiry.Equal(t1.Expiry) {
		t.Errorf("second refresh did not rotate: %q", t2.RefreshToken)
	}
	if got := s.Issued(GrantRefreshToken); got != 2 {
		t.Errorf("Issued(refresh_token) = %d, want 2", got)
	}

	// A used refresh token is dead.
	for _, used := range []string{first, t1.RefreshToken} {
		_, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: used}).Token()
		wantOAuthError(t, err, "invalid_grant", http.StatusBadRequest, "AADSTS70008")
	}

	// A refused request does not use the token up.
	s.Revoke("mobile")
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: t2.RefreshToken}).Token()
	wantOAuthError(t, err, "invalid_client", http.StatusUnauthorized, "AADSTS7000215")
	s.Restore("mobile")
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: t2.RefreshToken}).Token(); err != nil {
		t.Errorf("after Restore: %v", err)
	}

	// A confidential delegated client must send its secret, and tokens stay
	// with the client they were issued to.
	s.AddPublicClient("web", "websecret")
	webRT := s.IssueRefreshToken("web", "agent@desk.example")
	noSecret := oauth2.Config{ClientID: "web", Endpoint: oauth2.Endpoint{TokenURL: s.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	_, err = noSecret.TokenSource(ctx, &oauth2.Token{RefreshToken: webRT}).Token()
	wantOAuthError(t, err, "invalid_client", http.StatusUnauthorized, "AADSTS7000218")
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: webRT}).Token()
	wantOAuthError(t, err, "invalid_grant", http.StatusBadRequest, "issued to application 'web'")
	withSecret := noSecret
	withSecret.ClientSecret = "websecret"
	if _, err := withSecret.TokenSource(ctx, &oauth2.Token{RefreshToken: webRT}).Token(); err != nil {
		t.Errorf("confidential client: %v", err)
	}
}

func TestOAuthDeviceFlow(t *testing.T) {
	t.Parallel()
	s := NewOAuthServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s.AddPublicClient("cli", "")
	cfg := oauth2.Config{ClientID: "cli", Scopes: []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"},
		Endpoint: oauth2.Endpoint{DeviceAuthURL: s.DeviceAuthURL, TokenURL: s.TokenURL}}
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if da.VerificationURI != s.URL+"/device" || da.Interval != 1 || da.UserCode == "" || da.DeviceCode == "" ||
		time.Until(da.Expiry) < 14*time.Minute {
		t.Fatalf("device authorization = %+v", da)
	}
	if err := s.ApproveDevice("NOPE-NOPE", "agent@desk.example"); err == nil {
		t.Errorf("ApproveDevice of an unknown code succeeded")
	}
	// Approve only after a poll was answered authorization_pending.
	approved := make(chan error, 1)
	go func() {
		for s.Requests(GrantDeviceCode) == 0 && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		approved <- s.ApproveDevice(da.UserCode, "agent@desk.example")
	}()
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-approved; err != nil {
		t.Fatal(err)
	}
	if s.Requests(GrantDeviceCode) < 2 || s.Issued(GrantDeviceCode) != 1 {
		t.Errorf("Requests = %d, Issued = %d", s.Requests(GrantDeviceCode), s.Issued(GrantDeviceCode))
	}
	if claims := tokenClaims(t, s, tok.AccessToken); claims["email"] != "agent@desk.example" {
		t.Errorf("email = %v", claims["email"])
	}
	if tok.RefreshToken == "" {
		t.Fatalf("no refresh token")
	}
	if err := s.ApproveDevice(da.UserCode, "agent@desk.example"); err == nil {
		t.Errorf("ApproveDevice of a redeemed code succeeded")
	}

	// The device code is redeemed once.
	resp, err := http.PostForm(s.TokenURL, url.Values{"grant_type": {GrantDeviceCode}, "client_id": {"cli"}, "device_code": {da.DeviceCode}})
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Error string }
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || e.Error != "invalid_grant" {
		t.Errorf("second redemption: HTTP %d %q", resp.StatusCode, e.Error)
	}

	// The refresh token of the device flow refreshes.
	refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.RefreshToken == tok.RefreshToken {
		t.Errorf("refresh token not rotated")
	}

	// A declined sign-in ends the polling.
	da2, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DenyDevice(da2.UserCode); err != nil {
		t.Fatal(err)
	}
	_, err = cfg.DeviceAccessToken(ctx, da2)
	wantOAuthError(t, err, "access_denied", http.StatusBadRequest, "denied")

	// Only public-client apps get device codes.
	s.AddClient("daemon", "x", "desk@desk.example")
	other := cfg
	other.ClientID = "daemon"
	_, err = other.DeviceAuth(ctx)
	wantOAuthError(t, err, "unauthorized_client", http.StatusBadRequest, "AADSTS70002")
}

// serviceAccountFile is the part of a key file the test checks.
type serviceAccountFile struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	ClientID     string `json:"client_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	TokenURL     string `json:"token_uri"`
}

// googleJWTConfig reads a key file the way a maildesk deployment does.
func googleJWTConfig(t *testing.T, keyJSON []byte, scope ...string) *jwt.Config {
	t.Helper()
	cfg, err := google.JWTConfigFromJSON(keyJSON, scope...)
	if err != nil {
		t.Fatalf("google.JWTConfigFromJSON: %v", err)
	}
	return cfg
}

func TestOAuthServiceAccount(t *testing.T) {
	t.Parallel()
	s := NewOAuthServer(t)
	ctx := context.Background()
	const email = "maildesk@desk-project.iam.gserviceaccount.com"
	keyJSON := s.AddServiceAccount(t, email)

	var f serviceAccountFile
	if err := json.Unmarshal(keyJSON, &f); err != nil {
		t.Fatal(err)
	}
	if f.ClientEmail != email || f.TokenURL != s.TokenURL || f.PrivateKeyID == "" || len(f.ClientID) != 21 {
		t.Errorf("key file = %s", keyJSON)
	}
	if block, _ := pem.Decode([]byte(f.PrivateKey)); block == nil || block.Type != "PRIVATE KEY" {
		t.Errorf("private_key is not a PKCS#8 PEM block")
	}

	cfg := googleJWTConfig(t, keyJSON, googleScope)
	cfg.Subject = "agent@desk.example"
	tok, err := cfg.TokenSource(ctx).Token()
	if err != nil {
		t.Fatal(err)
	}
	if claims := tokenClaims(t, s, tok.AccessToken); claims["email"] != "agent@desk.example" {
		t.Errorf("email = %v, want the impersonated user", claims["email"])
	}
	if time.Until(tok.Expiry) < 59*time.Minute {
		t.Errorf("expiry %v", tok.Expiry)
	}
	if s.LastScope(GrantJWTBearer) != googleScope || s.Issued(GrantJWTBearer) != 1 {
		t.Errorf("LastScope %q, Issued %d", s.LastScope(GrantJWTBearer), s.Issued(GrantJWTBearer))
	}

	noScope := googleJWTConfig(t, keyJSON)
	noScope.Subject = "agent@desk.example"
	_, err = noScope.TokenSource(ctx).Token()
	wantOAuthError(t, err, "invalid_scope", http.StatusBadRequest, "scope")

	// Another account's key under this account's name.
	otherJSON := s.AddServiceAccount(t, "other@desk-project.iam.gserviceaccount.com")
	forged := googleJWTConfig(t, otherJSON, googleScope)
	forged.Email, forged.Subject = email, "agent@desk.example"
	_, err = forged.TokenSource(ctx).Token()
	wantOAuthError(t, err, "invalid_grant", http.StatusBadRequest, "Invalid JWT Signature")

	unknown := googleJWTConfig(t, keyJSON, googleScope)
	unknown.Email = "gone@desk-project.iam.gserviceaccount.com"
	_, err = unknown.TokenSource(ctx).Token()
	wantOAuthError(t, err, "invalid_grant", http.StatusBadRequest, "account not found")

	s.Revoke(email)
	_, err = cfg.TokenSource(ctx).Token()
	wantOAuthError(t, err, "invalid_client", http.StatusUnauthorized, "AADSTS7000215")
}

func TestOAuthMint(t *testing.T) {
	t.Parallel()
	s := NewOAuthServer(t)
	claims := tokenClaims(t, s, s.Mint("a@desk.example", 5*time.Minute))
	if claims["email"] != "a@desk.example" || claims["exp"].(float64)-claims["iat"].(float64) != 300 {
		t.Errorf("claims = %v", claims)
	}
	expired := tokenClaims(t, s, s.Mint("a@desk.example", -time.Minute))
	exp, iat := expired["exp"].(float64), expired["iat"].(float64)
	if exp >= float64(time.Now().Unix()) || iat >= exp {
		t.Errorf("expired token: iat %v, exp %v", iat, exp)
	}
}

func TestOAuthErrorsOfMalformedRequests(t *testing.T) {
	t.Parallel()
	s := NewOAuthServer(t)
	for _, c := range []struct {
		form url.Values
		code string
	}{
		{url.Values{}, "invalid_request"},
		{url.Values{"grant_type": {"password"}}, "unsupported_grant_type"},
		{url.Values{"grant_type": {GrantClientCredentials}}, "invalid_request"},
		{url.Values{"grant_type": {GrantJWTBearer}, "assertion": {"not.a-jwt"}}, "invalid_grant"},
	} {
		resp, err := http.PostForm(s.TokenURL, c.form)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || e.Error != c.code || e.Description == "" {
			t.Errorf("%v: HTTP %d %+v, want 400 %s", c.form, resp.StatusCode, e, c.code)
		}
	}
	if got := s.Requests("password"); got != 1 {
		t.Errorf("Requests(password) = %d", got)
	}
}
