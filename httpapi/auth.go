package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"github.com/maildesk/maildesk/config"
)

// Token is one bearer token of the API: Name is the agent who acts with it.
type Token struct {
	Name   string
	Secret string
}

// TokensFromConfig converts the validated http.tokens of a config.
func TokensFromConfig(ts []config.HTTPToken) []Token {
	out := make([]Token, 0, len(ts))
	for _, t := range ts {
		out = append(out, Token{Name: t.Name, Secret: t.Token})
	}
	return out
}

// LocalAgent is the agent of requests to an API without tokens, which
// config validation allows only on a loopback address (local use).
const LocalAgent = "local"

type agentKey struct{}

// AgentFrom returns the name of the token a request was authenticated
// with (LocalAgent on an API without tokens); false outside RequireToken.
func AgentFrom(ctx context.Context) (string, bool) {
	name, ok := ctx.Value(agentKey{}).(string)
	return name, ok
}

// RequireToken lets through requests that carry one of tokens, as
// "Authorization: Bearer TOKEN" or as the password of HTTP Basic
// authentication (any user name; for browsers), with the token's name in
// the request's context (AgentFrom). Others get 401 with a
// WWW-Authenticate challenge and a JSON error. With no tokens every request
// is let through as LocalAgent: config validation allows that only when the
// listener is on a loopback address; such an open handler answers only
// requests whose Host is localhost or a loopback address (DNS rebinding).
// Non-safe cross-origin browser requests (CSRF: a page of another site
// posting with the browser's Basic credentials) get 403
// (http.CrossOriginProtection).
//
// The token presented is compared with every configured one, always all of
// them, as SHA-256 digests (equal lengths) with a constant-time compare, so
// that timing tells neither the token nor which one matched. Tokens are
// never logged.
func RequireToken(tokens []Token, next http.Handler) http.Handler {
	type known struct {
		name string
		sum  [sha256.Size]byte
	}
	ks := make([]known, 0, len(tokens))
	for _, t := range tokens {
		ks = append(ks, known{t.Name, sha256.Sum256([]byte(t.Secret))})
	}
	// Browsers send Basic credentials by themselves, also with requests
	// that pages of other sites make: refuse non-safe cross-origin ones.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := infoFrom(r.Context()); info != nil {
			info.authFailure = "cross-origin request refused"
		}
		writeError(w, http.StatusForbidden, "cross-origin request refused")
	}))
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(ks) == 0 {
			// A page of another site whose name resolves to 127.0.0.1 (DNS
			// rebinding) is "same origin" to the browser: answer only
			// requests that name this host as a loopback host.
			if !loopbackHost(r.Host) {
				if info := infoFrom(r.Context()); info != nil {
					info.authFailure = "open API asked for host " + r.Host
				}
				writeError(w, http.StatusForbidden, "without http.tokens the API answers only requests to 127.0.0.1, [::1] or localhost")
				return
			}
			next.ServeHTTP(w, withAgent(r, LocalAgent))
			return
		}
		presented, scheme := credentials(r)
		if presented == "" {
			unauthorized(w, r, "", "authentication required: send Authorization: Bearer TOKEN")
			return
		}
		sum := sha256.Sum256([]byte(presented))
		match := -1
		for i := range ks {
			eq := subtle.ConstantTimeCompare(sum[:], ks[i].sum[:])
			match = subtle.ConstantTimeSelect(eq, i, match)
		}
		if match < 0 {
			unauthorized(w, r, scheme, "invalid token")
			return
		}
		next.ServeHTTP(w, withAgent(r, ks[match].name))
	}))
}

// loopbackHost reports whether a Host header names this host: localhost or
// a loopback address, with or without a port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// credentials returns the token a request presents and how ("bearer" or
// "basic"); "" when it presents none.
func credentials(r *http.Request) (token, scheme string) {
	h := r.Header.Get("Authorization")
	if s, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(s, "Bearer") {
		return strings.TrimSpace(tok), "bearer"
	}
	if _, pw, ok := r.BasicAuth(); ok {
		return pw, "basic"
	}
	return "", ""
}

func withAgent(r *http.Request, name string) *http.Request {
	if info := infoFrom(r.Context()); info != nil {
		info.agent = name
	}
	return r.WithContext(context.WithValue(r.Context(), agentKey{}, name))
}

func unauthorized(w http.ResponseWriter, r *http.Request, scheme, msg string) {
	if info := infoFrom(r.Context()); info != nil {
		info.authFailure = msg
	}
	bearer := `Bearer realm="maildesk"`
	if scheme == "bearer" {
		bearer += `, error="invalid_token"`
	}
	w.Header().Add("WWW-Authenticate", bearer)
	w.Header().Add("WWW-Authenticate", `Basic realm="maildesk", charset="UTF-8"`)
	writeError(w, http.StatusUnauthorized, msg)
}
