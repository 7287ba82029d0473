package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/httpapi"
)

// unsetEnv unsets name for the test and restores it afterwards.
func unsetEnv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "")
	os.Unsetenv(name)
}

func runHealthcheck(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"healthcheck"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "maildesk.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHealthcheck(t *testing.T) {
	unsetEnv(t, listenEnv)
	srv := httptest.NewServer(httpapi.Handler([]httpapi.Check{{Name: "redis", Check: func(ctx context.Context) (any, error) {
		return nil, errors.New("connection refused")
	}}}, nil))
	defer srv.Close()
	hostPort := strings.TrimPrefix(srv.URL, "http://")
	_, port, _ := net.SplitHostPort(hostPort)

	code, out, errOut := runHealthcheck(t, "--url", srv.URL)
	if code != 0 || out != "ok: GET "+srv.URL+"/healthz: 200 OK\n" || errOut != "" {
		t.Errorf("--url: exit %d, %q, %q", code, out, errOut)
	}
	// Without a scheme, and with a path given.
	if code, _, errOut := runHealthcheck(t, "--url", hostPort+"/healthz"); code != 0 {
		t.Errorf("--url host:port/healthz: exit %d, %q", code, errOut)
	}
	// Not ready: 503 and why.
	code, out, errOut = runHealthcheck(t, "--url", srv.URL, "--ready")
	if code != 1 || out != "" || !strings.Contains(errOut, "GET "+srv.URL+"/readyz: 503 Service Unavailable") || !strings.Contains(errOut, "connection refused") {
		t.Errorf("--ready: exit %d, %q, %q", code, out, errOut)
	}

	// --config: the listen address from the file; wildcards via loopback.
	for _, listen := range []string{hostPort, "0.0.0.0:" + port, ":" + port, "[::]:" + port} {
		cfg := writeConfig(t, "desk: {id: x}\nhttp:\n  listen: \""+listen+"\"\n  tokens: [{name: a, token_file: /nonexistent}]\n")
		if code, out, errOut := runHealthcheck(t, "--config", cfg); code != 0 || !strings.Contains(out, "ok: GET http://") {
			t.Errorf("--config with listen %q: exit %d, %q, %q", listen, code, out, errOut)
		}
	}
	// The environment wins over the file, as for the daemon.
	cfg := writeConfig(t, "http: {listen: \"127.0.0.1:1\"}\n")
	t.Setenv(listenEnv, hostPort)
	if code, _, errOut := runHealthcheck(t, "--config", cfg); code != 0 {
		t.Errorf("%s over the config: exit %d, %q", listenEnv, code, errOut)
	}
	// And is used without --config.
	if code, _, errOut := runHealthcheck(t); code != 0 {
		t.Errorf("%s alone: exit %d, %q", listenEnv, code, errOut)
	}
	if code, _, errOut := runHealthcheck(t, "--ready"); code != 1 || !strings.Contains(errOut, "/readyz: 503") {
		t.Errorf("%s --ready: exit %d, %q", listenEnv, code, errOut)
	}
}

func TestHealthcheckFailures(t *testing.T) {
	unsetEnv(t, listenEnv)
	// Nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	code, out, errOut := runHealthcheck(t, "--url", "http://"+closed)
	if code != 1 || out != "" || !strings.Contains(errOut, "maildesk healthcheck: GET http://"+closed+"/healthz: ") || !strings.Contains(errOut, "connection refused") {
		t.Errorf("nothing listening: exit %d, %q, %q", code, out, errOut)
	}
	// [::] tries [::1], then 127.0.0.1, and reports both.
	_, port, _ := net.SplitHostPort(closed)
	code, _, errOut = runHealthcheck(t, "--config", writeConfig(t, "http: {listen: \"[::]:"+port+"\"}\n"))
	if code != 1 || !strings.Contains(errOut, "GET http://[::1]:"+port+"/healthz: ") || !strings.Contains(errOut, "; GET http://127.0.0.1:"+port+"/healthz: ") {
		t.Errorf("[::] with nothing listening: exit %d, %q", code, errOut)
	}

	// An answer that does not come in time.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	start := time.Now()
	code, _, errOut = runHealthcheck(t, "--url", slow.URL, "--timeout", "200ms")
	if code != 1 || errOut != "maildesk healthcheck: GET "+slow.URL+"/healthz: no answer within 200ms\n" {
		t.Errorf("slow: exit %d, %q", code, errOut)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("slow: took %s", took)
	}

	// A redirect is not followed: it is not the daemon's 200.
	redirect := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/", http.StatusFound))
	defer redirect.Close()
	if code, _, errOut := runHealthcheck(t, "--url", redirect.URL); code != 1 || !strings.Contains(errOut, "302 Found") {
		t.Errorf("redirect: exit %d, %q", code, errOut)
	}

	// HTTP turned off, a missing config, a bad listen address.
	if code, _, errOut := runHealthcheck(t, "--config", writeConfig(t, "http: {listen: \"\"}\n")); code != 1 || !strings.Contains(errOut, "http.listen is empty: HTTP is off") {
		t.Errorf("HTTP off: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runHealthcheck(t, "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != 1 || !strings.Contains(errOut, "reading config file") {
		t.Errorf("missing config: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runHealthcheck(t, "--config", writeConfig(t, "http: {listen: \"8080\"}\n")); code != 1 || !strings.Contains(errOut, `http.listen: "8080" is not host:port`) {
		t.Errorf("bad listen: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runHealthcheck(t, "--config", writeConfig(t, "http: [\n")); code != 1 || !strings.Contains(errOut, "maildesk.yaml") {
		t.Errorf("broken YAML: exit %d, %q", code, errOut)
	}

	// Usage mistakes exit 2.
	for _, args := range [][]string{
		{"--url", "http://127.0.0.1:1", "--config", "x.yaml"},
		{"extra"},
		{"--timeout", "0s"},
		{"--url", "ftp://127.0.0.1/"},
		{"--url", "http://127.0.0.1:1/healthz", "--ready"},
		{"--bogus"},
	} {
		if code, _, _ := runHealthcheck(t, args...); code != 2 {
			t.Errorf("healthcheck %q: exit %d, want 2", args, code)
		}
	}
}

// Without --config or the environment the check goes where a daemon with
// the default config listens.
func TestHealthcheckDefault(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "contacts.yaml"), []byte("customers: []\n"), 0o600)
	cfg, err := configload.Parse([]byte(`desk: {id: x, address: desk@x.example}
imap: {address: "127.0.0.1:143", username: u, password: p}
smtp: {address: "127.0.0.1:25"}
contacts_file: contacts.yaml
`), dir, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != defaultListen {
		t.Errorf("config's default http.listen is %q, the health check's %q", cfg.HTTP.Listen, defaultListen)
	}
	listen, _, err := healthcheckListen("", func(string) (string, bool) { return "", false })
	if err != nil || listen != defaultListen {
		t.Errorf("healthcheckListen without config or env: %q, %v", listen, err)
	}
	urls, err := listenURLs(listen, "/healthz")
	if err != nil || len(urls) != 1 || urls[0] != "http://127.0.0.1:8080/healthz" {
		t.Errorf("default URLs: %q, %v", urls, err)
	}
}
