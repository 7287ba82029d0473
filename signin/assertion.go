package signin

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// assertionLifetime is how long a client assertion is valid: it is made
// for one token request, so minutes are plenty and a leaked one dies soon.
const assertionLifetime = 5 * time.Minute

// clientAssertion is the RS256 JWT a confidential client signs instead of
// sending a secret (RFC 7523 section 2.2; Microsoft's "certificate
// credentials"). Microsoft finds the certificate by its thumbprint: x5t#S256
// (SHA-256, what Entra recommends) and x5t (SHA-1, what older servers and
// AD FS read) are both sent. golang.org/x/oauth2/jws cannot write either
// header, hence our own encoding; RSA PKCS #1 v1.5 signatures are
// deterministic, so a fixed time and jti give a fixed assertion.
func clientAssertion(cert *x509.Certificate, key *rsa.PrivateKey, clientID, audience string, now time.Time, jti string) (string, error) {
	s1 := sha1.Sum(cert.Raw)
	s256 := sha256.Sum256(cert.Raw)
	header := struct {
		Alg     string `json:"alg"`
		Typ     string `json:"typ"`
		X5t     string `json:"x5t"`
		X5tS256 string `json:"x5t#S256"`
	}{"RS256", "JWT", b64(s1[:]), b64(s256[:])}
	claims := struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Iat int64  `json:"iat"`
		Iss string `json:"iss"`
		Jti string `json:"jti"`
		Nbf int64  `json:"nbf"`
		Sub string `json:"sub"`
	}{audience, now.Add(assertionLifetime).Unix(), now.Unix(), clientID, jti, now.Unix(), clientID}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing the client assertion: %w", err)
	}
	return signed + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// newJTI is a random assertion id: servers refuse a replayed one.
func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
