package config

import (
	"cmp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const goodToken = "0123456789abcdef0123456789abcdef"

func TestHTTPTokens(t *testing.T) {
	// base is 12 lines: "http:" is line 13, listen 14, tokens 15, the
	// first token's name 16 and its token 17.
	tokens := func(listen string, entries ...string) string {
		s := base + "http:\n  listen: " + listen + "\n"
		if len(entries) > 0 {
			s += "  tokens:\n"
			for _, e := range entries {
				s += "    - " + strings.ReplaceAll(e, "\n", "\n      ") + "\n"
			}
		}
		return s
	}
	tests := []struct {
		name   string
		config string
		files  map[string]string
		env    map[string]string
		path   string // "" = valid
		line   int
		reason string
		// others: problems besides the one at path
		others int
	}{
		{name: "loopback without tokens", config: tokens("127.0.0.1:8080")},
		{name: "other loopback address", config: tokens("127.0.0.2:8080")},
		{name: "localhost without tokens", config: tokens("localhost:8080")},
		{name: "IPv6 loopback without tokens", config: tokens(`"[::1]:8080"`)},
		{name: "HTTP off", config: tokens(`""`)},
		{name: "all interfaces with a token", config: tokens(`":8080"`, "name: alice\ntoken: "+goodToken)},
		{name: "token file", config: tokens("0.0.0.0:8080", "name: alice\ntoken_file: secrets/alice"),
			files: map[string]string{"secrets/alice": goodToken + "\n"}},

		{name: "all interfaces without tokens", config: tokens(`":8080"`), path: "http.listen", line: 14,
			reason: `tokens are required when http.listen is not a loopback address (got ":8080")`},
		{name: "public address without tokens", config: tokens("192.0.2.1:8080"), path: "http.listen", line: 14,
			reason: "tokens are required when http.listen is not a loopback address"},
		{name: "host name without tokens", config: tokens("desk.example:8080"), path: "http.listen", line: 14,
			reason: "tokens are required"},
		{name: "public address from the environment", config: base, env: map[string]string{"MAILDESK_HTTP_LISTEN": "0.0.0.0:8080"},
			path: "http.listen", reason: "tokens are required when http.listen is not a loopback address (got \"0.0.0.0:8080\"): add http.tokens, or listen on 127.0.0.1 (set by MAILDESK_HTTP_LISTEN)"},
		{name: "name missing", config: tokens("127.0.0.1:8080", "token: "+goodToken), path: "http.tokens[0].name", line: 16, reason: "is required"},
		{name: "name with spaces around", config: tokens("127.0.0.1:8080", `name: " alice"`+"\ntoken: "+goodToken), path: "http.tokens[0].name", line: 16,
			reason: "without control characters or surrounding spaces"},
		{name: "name twice", config: tokens("127.0.0.1:8080", "name: alice\ntoken: "+goodToken, "name: Alice\ntoken: x"+goodToken),
			path: "http.tokens[1].name", line: 18, reason: `"Alice" is already the name of http.tokens[0]`},
		{name: "token missing", config: tokens("127.0.0.1:8080", "name: alice"), path: "http.tokens[0].token", line: 16, reason: "is required (or token_file)"},
		{name: "token and token_file", config: tokens("127.0.0.1:8080", "name: alice\ntoken: "+goodToken+"\ntoken_file: t"),
			files: map[string]string{"t": goodToken}, path: "http.tokens[0].token_file", line: 18, reason: "either token or token_file, not both"},
		{name: "token short", config: tokens("127.0.0.1:8080", "name: alice\ntoken: short-secret"), path: "http.tokens[0].token", line: 17,
			reason: "must be at least 16 characters, 32 or more recommended, e.g. from openssl rand -hex 32 (got 12)"},
		{name: "token file short", config: tokens("127.0.0.1:8080", "name: alice\ntoken_file: t"), files: map[string]string{"t": "short-secret\n"},
			path: "http.tokens[0].token_file", line: 17, reason: "at least 16 characters"},
		{name: "token file missing", config: tokens("127.0.0.1:8080", "name: alice\ntoken_file: nope"), path: "http.tokens[0].token_file", line: 17,
			reason: "cannot read"},
		{name: "token file empty", config: tokens("127.0.0.1:8080", "name: alice\ntoken_file: t"), files: map[string]string{"t": "\n"},
			path: "http.tokens[0].token_file", line: 17, reason: "is empty"},
		{name: "token with a space", config: tokens("127.0.0.1:8080", `name: alice`+"\ntoken: \"0123456789 abcdef0123456789\""), path: "http.tokens[0].token", line: 17,
			reason: "printable ASCII without spaces"},
		{name: "token twice", config: tokens("127.0.0.1:8080", "name: alice\ntoken: "+goodToken, "name: bob\ntoken: "+goodToken),
			path: "http.tokens[1].token", line: 19, reason: "is the same token as http.tokens[0]"},
		{name: "unknown key", config: tokens("127.0.0.1:8080", "name: alice\ntokn: "+goodToken), path: "http.tokens[0].tokn", line: 17,
			reason: `unknown field "tokn" (did you mean "token"?)`, others: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ps := parseWith(t, tt.config, tt.files, tt.env)
			if tt.path == "" {
				if ps != nil {
					t.Fatalf("unexpected problems:\n%v", ps)
				}
				for _, tok := range cfg.HTTP.Tokens {
					if tok.Token != goodToken {
						t.Errorf("token %q", tok.Token)
					}
				}
				return
			}
			if len(ps) != 1+tt.others {
				t.Fatalf("want %d problem(s), one at %s, got:\n%v", 1+tt.others, tt.path, ps)
			}
			i := slices.IndexFunc(ps, func(p Problem) bool { return p.Path == tt.path })
			if i < 0 {
				t.Fatalf("no problem at %s:\n%v", tt.path, ps)
			}
			p := ps[i]
			if p.Path != tt.path || p.Line != tt.line || !strings.Contains(p.Reason, tt.reason) {
				t.Errorf("got %s (line %d), want %s line %d: %s", p, p.Line, tt.path, tt.line, tt.reason)
			}
			if strings.Contains(p.String(), goodToken) || strings.Contains(p.String(), "short-secret") {
				t.Errorf("the problem quotes the token: %s", p)
			}
		})
	}
}

func TestRedactedHidesTokens(t *testing.T) {
	cfg, ps := parseWith(t, base+"http:\n  tokens:\n    - {name: alice, token: "+goodToken+"}\n", nil, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	r := cfg.Redacted()
	out, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), goodToken) || r.HTTP.Tokens[0].Token != "***" || r.HTTP.Tokens[0].Name != "alice" {
		t.Errorf("redacted:\n%s", out)
	}
	if cfg.HTTP.Tokens[0].Token != goodToken {
		t.Error("Redacted changed the original")
	}
}

func TestLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:80": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST.:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.1:8080": false, "desk.example:80": false,
		"localhost.evil.example:80": false, "8080": false,
	} {
		if got := LoopbackListen(addr); got != want {
			t.Errorf("LoopbackListen(%q) = %v, want %v", addr, got, want)
		}
	}
}

// http.public_url is scheme and host; the pages link from the root.
func TestHTTPPublicURL(t *testing.T) {
	for _, tt := range []struct {
		url, listen, want string // want "" = valid
	}{
		{url: "https://desk.example.com", want: ""},
		{url: "https://desk.example.com/", want: ""},
		{url: "http://127.0.0.1:8080", want: ""},
		{url: "ftp://desk.example.com", want: "must start with https://"},
		{url: "desk.example.com", want: "must start with https://"},
		{url: "https://", want: "must name a host"},
		{url: "https://desk.example.com/maildesk", want: "scheme and host only"},
		{url: "https://desk.example.com/?x=1", want: "scheme and host only"},
		{url: "https://user:pw@desk.example.com", want: "must not hold a user name or password"},
		{url: "https://desk.example.com", listen: `""`, want: "set http.listen"},
	} {
		listen := cmp.Or(tt.listen, "127.0.0.1:8080")
		cfg, ps := parseWith(t, base+"http:\n  listen: "+listen+"\n  public_url: \""+tt.url+"\"\n", nil, nil)
		switch {
		case tt.want == "" && ps != nil:
			t.Errorf("%s: %v", tt.url, ps)
		case tt.want == "" && strings.HasSuffix(cfg.HTTP.PublicURL, "/"):
			t.Errorf("%s kept its slash: %q", tt.url, cfg.HTTP.PublicURL)
		case tt.want != "" && (len(ps) != 1 || ps[0].Path != "http.public_url" || !strings.Contains(ps[0].Reason, tt.want)):
			t.Errorf("%s: %v, want http.public_url: %s", tt.url, ps, tt.want)
		}
	}
	cfg, ps := parseWith(t, base+"plans:\n  standard: {status_link: false}\n", nil, nil)
	if ps != nil || cfg.Plans["standard"].StatusLinks() || !(Plan{}).StatusLinks() || cfg.HTTP.StatusLinkExpiry.D() != 720*time.Hour {
		t.Errorf("status_link %v, expiry %s: %v", cfg.Plans["standard"].StatusLink, cfg.HTTP.StatusLinkExpiry, ps)
	}
}
