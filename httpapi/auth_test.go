package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/config"
)

func TestAPIAuth(t *testing.T) {
	f := newFixture(t, testTokens)
	get := func(hdr ...string) (*http.Response, []byte) {
		return f.do("GET", "/api/v1/tickets", "", hdr...)
	}
	res, b := get("Authorization", "")
	if res.StatusCode != 401 || !strings.Contains(errorOf(t, b), "authentication required") {
		t.Fatalf("without token: %d %s", res.StatusCode, b)
	}
	if ch := strings.Join(res.Header.Values("WWW-Authenticate"), "; "); !strings.Contains(ch, `Bearer realm="maildesk"`) || !strings.Contains(ch, "Basic") {
		t.Errorf("challenge %q", ch)
	}
	res, b = get("Authorization", "Bearer "+aliceToken+"x")
	if res.StatusCode != 401 || !strings.Contains(strings.Join(res.Header.Values("WWW-Authenticate"), ";"), `error="invalid_token"`) {
		t.Errorf("wrong token: %d %s %v", res.StatusCode, b, res.Header)
	}
	res, _ = get("Authorization", "Bearer "+aliceToken[:20])
	if res.StatusCode != 401 {
		t.Errorf("prefix of a token: %d", res.StatusCode)
	}
	res, _ = get("Authorization", "Token "+aliceToken)
	if res.StatusCode != 401 {
		t.Errorf("other scheme: %d", res.StatusCode)
	}
	res, _ = get("Authorization", "bearer "+aliceToken)
	if res.StatusCode != 200 {
		t.Errorf("scheme is case-insensitive: %d", res.StatusCode)
	}

	// Basic: any user, the token as password; the token names the agent.
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/tickets/SD-1/notes", strings.NewReader(`{"message": "via browser"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("whoever", bobToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("basic auth: %d", resp.StatusCode)
	}
	if es, _ := f.store.Events(context.Background(), "SD-1"); len(es) != 1 || es[0].From != "bob" {
		t.Errorf("note by %+v", es)
	}
	req, _ = http.NewRequest("GET", f.srv.URL+"/api/v1/tickets", nil)
	req.SetBasicAuth("alice", "wrong")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("basic with a wrong password: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	// A page of another site cannot use the browser's credentials.
	res, b = f.do("POST", "/api/v1/tickets/SD-1/notes", `{"message": "csrf"}`, "Sec-Fetch-Site", "cross-site")
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %d %s", res.StatusCode, b)
	}

	// Probes stay open.
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(f.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}

	logs := f.logs.String()
	for _, tok := range []string{aliceToken, bobToken, aliceToken[:20]} {
		if strings.Contains(logs, tok) {
			t.Errorf("the log holds a token:\n%s", logs)
		}
	}
	for _, want := range []string{
		"method=POST path=/api/v1/tickets/SD-1/notes status=200 agent=bob",
		"method=GET path=/api/v1/tickets status=401 agent=\"\"",
		"auth=\"invalid token\"",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestAPIWithoutTokensActsAsLocal(t *testing.T) {
	f := newFixture(t, nil)
	res, b := f.do("POST", "/api/v1/tickets/SD-1/notes", `{"message": "local dev"}`, "Authorization", "")
	if res.StatusCode != 200 {
		t.Fatalf("note %d %s", res.StatusCode, b)
	}
	if es, _ := f.store.Events(context.Background(), "SD-1"); len(es) != 1 || es[0].From != LocalAgent {
		t.Errorf("note by %+v", es)
	}
	// A name of another site resolving to 127.0.0.1 (DNS rebinding).
	for host, code := range map[string]int{"evil.example:8080": 403, "evil.example": 403, "localhost:8080": 200, "[::1]:8080": 200, "127.0.0.1": 200} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/tickets", nil)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != code {
			t.Errorf("Host %s: %d, want %d", host, res.StatusCode, code)
		}
	}
}

func TestRequireTokenContext(t *testing.T) {
	var got string
	h := RequireToken(testTokens, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = AgentFrom(r.Context())
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/dashboard", nil)
	req.Header.Set("Authorization", "Bearer "+bobToken)
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || got != "bob" {
		t.Errorf("code %d agent %q", rec.Code, got)
	}
	if _, ok := AgentFrom(context.Background()); ok {
		t.Error("agent outside RequireToken")
	}
	cfg := TokensFromConfig([]config.HTTPToken{{Name: "carol", Token: "c", TokenFile: "/x"}})
	if len(cfg) != 1 || cfg[0] != (Token{Name: "carol", Secret: "c"}) {
		t.Errorf("tokens %+v", cfg)
	}
}
