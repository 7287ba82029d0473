package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinTokenLength is the fewest characters an HTTP API token may have; 32 or
// more random characters are recommended (openssl rand -hex 32).
const MinTokenLength = 16

// maxTokenNameLength bounds a token's name, which is shown as the agent.
const maxTokenNameLength = 64

// LoopbackListen reports whether a listen address (host:port) accepts
// connections from this host only: a loopback IP (127.0.0.0/8, ::1) or
// "localhost". An empty host listens on every interface.
func LoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (l *loader) validateHTTP() {
	c, h := l.c, &l.cfg.HTTP
	if h.Listen != "" {
		l.hostPort("http.listen", h.Listen, true)
	}
	names := map[string]int{}
	secrets := map[string]int{}
	for i := range h.Tokens {
		t, p := &h.Tokens[i], fmt.Sprintf("http.tokens[%d]", i)
		switch {
		case t.Name == "":
			c.Add(p+".name", "is required: who acts with this token, e.g. alice")
		case strings.TrimSpace(t.Name) != t.Name || utf8.RuneCountInString(t.Name) > maxTokenNameLength || strings.IndexFunc(t.Name, unicode.IsControl) >= 0:
			c.Addf(p+".name", "must be 1 to %d characters without control characters or surrounding spaces (got %q)", maxTokenNameLength, t.Name)
		default:
			key := strings.ToLower(t.Name)
			if j, dup := names[key]; dup {
				c.Addf(p+".name", "%q is already the name of http.tokens[%d]", t.Name, j)
			} else {
				names[key] = i
			}
		}
		// The problems below never quote the token: they end up in logs.
		switch {
		case t.Token != "" && t.TokenFile != "":
			c.Add(p+".token_file", "set either token or token_file, not both")
			continue
		case t.Token == "" && t.TokenFile == "":
			c.Add(p+".token", "is required (or token_file)")
			continue
		}
		field := p + ".token"
		if t.TokenFile != "" {
			field = p + ".token_file"
			l.readSecret(field, &t.TokenFile, &t.Token)
			if t.Token == "" {
				continue // reported by readSecret
			}
		}
		switch {
		case strings.IndexFunc(t.Token, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
			c.Add(field, "must be printable ASCII without spaces (it is sent in an HTTP header)")
		case len(t.Token) < MinTokenLength:
			c.Addf(field, "must be at least %d characters, 32 or more recommended, e.g. from openssl rand -hex 32 (got %d)", MinTokenLength, len(t.Token))
		default:
			if j, dup := secrets[t.Token]; dup {
				c.Addf(field, "is the same token as http.tokens[%d]: each agent needs its own", j)
			} else {
				secrets[t.Token] = i
			}
		}
	}
	if h.PublicURL != "" {
		if why := publicURLProblem(h.PublicURL); why != "" {
			c.Addf("http.public_url", "%s (got %q)", why, h.PublicURL)
		} else if h.Listen == "" {
			c.Add("http.public_url", "links to pages of an HTTP listener that is off: set http.listen, or remove http.public_url")
		}
		h.PublicURL = strings.TrimSuffix(h.PublicURL, "/")
	}
	if h.StatusLinkExpiry <= 0 {
		c.Addf("http.status_link_expiry", "must be more than 0 (got %s)", h.StatusLinkExpiry)
	}
	if h.Listen != "" && len(h.Tokens) == 0 && !LoopbackListen(h.Listen) {
		c.Addf("http.listen", "tokens are required when http.listen is not a loopback address (got %q): add http.tokens, or listen on 127.0.0.1", h.Listen)
	}
}

// publicURLProblem says what is wrong with an http.public_url, "" for
// nothing: an absolute http(s) address of a host, without path, query or
// credentials (the pages link to each other from the root).
func publicURLProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "is not a URL: " + err.Error()
	case u.Scheme != "https" && u.Scheme != "http":
		return "must start with https:// (or http://)"
	case u.Host == "" || u.Opaque != "":
		return "must name a host, like https://desk.example.com"
	case u.User != nil:
		return "must not hold a user name or password"
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "", u.ForceQuery:
		return "must be scheme and host only, like https://desk.example.com: the pages are served from the root"
	}
	return ""
}
