package configload

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testconfig"
)

const base = testconfig.Base

const baseContacts = testconfig.Contacts

func testDir(t *testing.T, files map[string]string) string { return testconfig.Dir(t, files) }

func TestLoad(t *testing.T) {
	dir := testDir(t, map[string]string{
		"etc/maildesk.yaml": strings.Replace(base, "  password: secret\n", "  password_file: imap.secret\n", 1),
		"etc/imap.secret":   "s3cret\n",
		"etc/contacts.yaml": baseContacts,
	})
	cfg, err := Load(filepath.Join(dir, "etc/maildesk.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != filepath.Join(dir, "etc/maildesk.yaml") || cfg.IMAP.Password != "s3cret" || len(cfg.Customers) != 1 ||
		cfg.Customers[0].Contacts[0].Email != "jan@acme.example" || !strings.HasPrefix(cfg.ContactsSHA256, "sha256:") {
		t.Errorf("Path %q, password %q, customers %+v, sum %q", cfg.Path, cfg.IMAP.Password, cfg.Customers, cfg.ContactsSHA256)
	}
}

// One run shows the problems of every file, each with its file and line,
// sorted file by file.
func TestLoadProblemsNameTheFiles(t *testing.T) {
	dir := testDir(t, map[string]string{
		"maildesk.yaml": strings.Replace(base, "security: none\n  username", "security: ssl\n  username", 1),
		"contacts.yaml": "customers:\n  - id: acme\n    contacts:\n      - email: nobody\n",
	})
	t.Chdir(dir)
	_, err := Load("maildesk.yaml")
	var ps config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	want := []string{
		`maildesk.yaml:6: imap.security: must be one of none, starttls, tls (got "ssl")`,
		`contacts.yaml:4: customers[0].contacts[0].email: is not a valid e-mail address (got "nobody")`,
	}
	if got := ps.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// A contacts file that cannot be read is a problem of the config file, at
// contacts_file, among the config's own.
func TestLoadContactsFileUnreadable(t *testing.T) {
	dir := testDir(t, map[string]string{
		"maildesk.yaml": strings.Replace(strings.Replace(base, "security: none\n  username", "security: ssl\n  username", 1), "contacts.yaml", "nope.yaml", 1) +
			"log:\n  level: verbose\n",
	})
	t.Chdir(dir)
	_, err := Load("maildesk.yaml")
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 3 || ps[0].Line != 6 || ps[1].Path != "contacts_file" || ps[1].Line != 12 ||
		!strings.Contains(ps[1].Reason, "cannot read contacts file") || ps[2].Line != 14 {
		t.Errorf("got:\n%v", err)
	}
}

func TestLoadUnreadable(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if err == nil || errors.As(err, new(config.Problems)) || !strings.Contains(err.Error(), "reading config file") {
		t.Errorf("err = %v, want the I/O error", err)
	}
}

func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../deploy/examples/maildesk.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "imap-password")
	if err := os.WriteFile(secret, []byte("example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data, "../deploy/examples", func(k string) (string, bool) {
		return secret, k == "MAILDESK_IMAP_PASSWORD_FILE"
	})
	if err != nil {
		t.Fatalf("example config has problems:\n%v", err)
	}
	if len(cfg.Customers) != 2 || cfg.IMAP.Password != "example" {
		t.Errorf("unexpected example config: %+v", cfg.Redacted())
	}
}
