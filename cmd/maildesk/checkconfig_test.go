package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const checkBase = `desk: {id: x, address: desk@x.example%s}
redis: {url: "%s"}
imap: {address: 127.0.0.1:143, username: u, password: p, security: none}
smtp: {address: 127.0.0.1:25, security: none}
contacts_file: contacts.yaml
`

func checkConfig(t *testing.T, desk, redisURL string) (int, string) {
	t.Helper()
	path := writeConfig(t, fmt.Sprintf(checkBase, desk, redisURL))
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "contacts.yaml"), []byte("customers: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"check-config", "--config", path}, &out, &errOut)
	return code, out.String() + errOut.String()
}

// A redis.url the daemon's Redis client refuses is a problem check-config
// reports, not a start that fails later.
func TestCheckConfigRedisURL(t *testing.T) {
	code, out := checkConfig(t, "", "redis://127.0.0.1:6379/0?colour=blue")
	if code != 1 || !strings.Contains(out, "redis.url: redis: unexpected option: colour") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	code, out = checkConfig(t, "", "redis://:s3cret@127.0.0.1:6379/x")
	if code != 1 || !strings.Contains(out, "redis.url") || strings.Contains(out, "s3cret") {
		t.Errorf("bad database: exit %d:\n%s", code, out)
	}
	if code, out := checkConfig(t, "", "redis://127.0.0.1:6379/0"); code != 0 || out != "config ok\n" {
		t.Errorf("good URL: exit %d:\n%s", code, out)
	}
}

// Agents listed with their mail off: check-config says what that means.
func TestCheckConfigAgentMailNote(t *testing.T) {
	code, out := checkConfig(t, ", agents: [{email: eva@x.example}]", "redis://127.0.0.1:6379/0")
	if code != 0 || !strings.Contains(out, "note: desk.agent_mail is off") || !strings.HasSuffix(out, "config ok\n") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
