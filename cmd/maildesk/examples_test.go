package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const examplesDir = "../../deploy/examples"

// exampleEnv stands in for the secret the examples read from
// /run/secrets/imap-password in a real deployment.
func exampleEnv(t *testing.T) {
	t.Setenv("MAILDESK_IMAP_PASSWORD", "example")
}

func TestSLADueErrors(t *testing.T) {
	exampleEnv(t)
	kwikqy := filepath.Join(examplesDir, "kwikqy.yaml")
	dir := t.TempDir()
	noClock := filepath.Join(dir, "noclock.yaml")
	os.WriteFile(filepath.Join(dir, "contacts.yaml"), []byte("customers: []\n"), 0o600)
	os.WriteFile(noClock, []byte(`desk: {id: x, address: desk@x.example}
imap: {address: "127.0.0.1:143", username: u, password: p}
smtp: {address: "127.0.0.1:25"}
plans: {standaard: {default_priority: P3}}
contacts_file: contacts.yaml
`), 0o600)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--plan", "gold", "--priority", "P1", "--at", "2026-03-02T10:00:00+01:00"}, 1, `unknown plan "gold" (plans: enhanced, premium, standard)`},
		{[]string{"--plan", "standard", "--priority", "P7", "--at", "2026-03-02T10:00:00+01:00"}, 1, `unknown priority "P7"`},
		{[]string{"--plan", "standard", "--priority", "P1", "--at", "2026-03-02 10:00"}, 2, `--at "2026-03-02 10:00" is not an RFC 3339 time`},
		{[]string{"--plan", "standard", "--priority", "P1", "--language", "de", "--at", "2026-03-02T10:00:00+01:00"}, 2, `--language must be nl or en (got "de")`},
		{[]string{"--plan", "standard", "--priority", "P1"}, 2, "needs --at"},
		{[]string{"--priority", "P1", "--at", "2026-03-02T10:00:00+01:00"}, 2, "needs --plan"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := run(append([]string{"sla", "due", "--config", kwikqy}, tt.args...), &out, &errOut)
		if code != tt.code || !strings.Contains(errOut.String(), tt.want) || out.Len() != 0 {
			t.Errorf("sla due %v: exit %d, stdout %q, stderr %q; want exit %d and %q", tt.args, code, out.String(), errOut.String(), tt.code, tt.want)
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"sla", "due", "--config", noClock, "--plan", "standaard", "--priority", "P3", "--at", "2026-03-02T10:00:00+01:00"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), `plan "standaard" has no SLA calendar`) {
		t.Errorf("plan without clock: exit %d, %q", code, errOut.String())
	}
	if code := run([]string{"sla", "overdue"}, &out, &errOut); code != 2 {
		t.Errorf("unknown sla subcommand: exit %d", code)
	}
}
