package signin

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/config"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n got: %s\nwant: %s", name, got, want)
	}
}

func testKey(t *testing.T) (*x509.Certificate, *rsa.PrivateKey, []byte) {
	t.Helper()
	cb, err := os.ReadFile("testdata/assertion-cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	kb, err := os.ReadFile("testdata/assertion-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(cb)
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = pem.Decode(kb)
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert, k.(*rsa.PrivateKey), kb
}

// decodeJWT returns a JWT's header and claims and checks its RS256
// signature with pub.
func decodeJWT(t *testing.T, jwt string, pub *rsa.PublicKey) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("signature: %v", err)
	}
	return header, claims
}

// The client assertion of Microsoft's certificate credentials, byte for
// byte: RS256 PKCS #1 v1.5 is deterministic.
func TestClientAssertionGolden(t *testing.T) {
	cert, key, _ := testKey(t)
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	a, err := clientAssertion(cert, key, "11111111-2222-3333-4444-555555555555",
		"https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", at, "fixed-jti")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "assertion.golden", a+"\n")
	h, c := decodeJWT(t, a, &key.PublicKey)
	s256 := sha256.Sum256(cert.Raw)
	if h["x5t#S256"] != base64.RawURLEncoding.EncodeToString(s256[:]) || h["alg"] != "RS256" {
		t.Errorf("header %v", h)
	}
	if c["exp"].(float64)-c["nbf"].(float64) != assertionLifetime.Seconds() {
		t.Errorf("claims %v", c)
	}
}

// The service-account assertion golang.org/x/oauth2/google makes for
// domain-wide delegation, as a token endpoint receives it: the subject is
// the desk's mailbox and the scope Gmail's.
func TestServiceAccountJWTGolden(t *testing.T) {
	_, key, keyPEM := testKey(t)
	var assertion string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if g := r.Form.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			t.Errorf("grant_type %q", g)
		}
		assertion = r.Form.Get("assertion")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"at","token_type":"Bearer","expires_in":3600}`))
	}))
	defer srv.Close()
	keyJSON, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "maildesk-test", "private_key_id": "key-1",
		"private_key": string(keyPEM), "client_email": "maildesk@maildesk-test.iam.gserviceaccount.com",
		"client_id": "1234567890", "token_uri": srv.URL + "/token",
	})
	s, err := New(config.OAuth2{Provider: "google", Grant: config.GrantServiceAccount, ServiceAccount: keyJSON}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Token(t.Context(), "servicedesk@kwikqy.example")
	if err != nil || tok != "at" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	h, c := decodeJWT(t, assertion, &key.PublicKey)
	if c["exp"].(float64)-c["iat"].(float64) != 3600 {
		t.Errorf("lifetime %v", c)
	}
	c["aud"] = strings.TrimPrefix(c["aud"].(string), srv.URL) // the test server's port varies
	c["iat"], c["exp"] = 0, 0
	out, _ := json.MarshalIndent(map[string]any{"header": h, "claims": c}, "", "  ")
	golden(t, "service-account-jwt.golden", string(out)+"\n")
}
