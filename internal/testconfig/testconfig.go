// Package testconfig holds what the tests of the packages that check parts
// of a desk's configuration (authz's contacts file, sla's grammar,
// configload) start from. config's own tests keep their copy: they are
// inside package config, which this package imports.
package testconfig

import (
	"os"
	"path/filepath"
	"testing"
)

// Base is the smallest valid config, as config's tests have it: a section
// appended to it starts on line 13.
const Base = `desk:
  id: acme-it
  address: servicedesk@desk.example
imap:
  address: 127.0.0.1:143
  security: none
  username: servicedesk@desk.example
  password: secret
smtp:
  address: 127.0.0.1:25
  security: none
contacts_file: contacts.yaml
`

// Contacts is the smallest contacts file Base names.
const Contacts = `customers:
  - id: acme
    name: Acme BV
    contacts:
      - {email: Jan@Acme.example, name: Jan Jansen, main: true, language: nl}
      - {email: piet@acme.example, name: Piet Pieters}
`

// Dir makes a directory holding the given files.
func Dir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
