package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/configload"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/ticket"
)

const contactsYAML = `customers:
  - id: acme
    name: Acme BV
    domains: [acme.example]
    contacts:
      - {email: jan@acme.example, name: Jan Jansen, main: true, language: nl}
      - {email: Piet@Acme.example, name: Piet Pieters}
  - id: oxi
    name: Oxineo
    plan: oxineo
    contacts:
      - {email: a@oxi.example, main: true}
      - {email: b@oxi.example, max_priority: P3, receives_progress: false}
`

// contactsDesk is a config (IMAP and SMTP never contacted) with a contacts
// file, on a real Redis.
type contactsDesk struct {
	t      *testing.T
	dir    string
	config string
	redis  *testserver.RedisServer
}

func newContactsDesk(t *testing.T) *contactsDesk {
	t.Helper()
	c := &contactsDesk{t: t, dir: t.TempDir(), redis: testserver.Redis(t)}
	c.config = c.write("maildesk.yaml", fmt.Sprintf(`desk:
  id: acme-it
  address: servicedesk@desk.example
redis:
  url: %s
imap:
  address: 127.0.0.1:1
  security: none
  username: desk
  password: secret
smtp:
  address: 127.0.0.1:1
  security: none
calendars:
  always: {hours: {mon-sun: ["00:00-24:00"]}}
plans:
  standard: {}
  oxineo: {max_contacts: 2, calendar: always, targets: {P3: {first_response: 4h}}}
contacts_file: contacts.yaml
`, c.redis.URL))
	c.write("contacts.yaml", contactsYAML)
	return c
}

func (c *contactsDesk) write(name, content string) string {
	c.t.Helper()
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// cli runs maildesk as a user would, with --config added after the
// subcommand.
func (c *contactsDesk) cli(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	full := append([]string{"contacts", args[0], "--config", c.config}, args[1:]...)
	var out, errOut bytes.Buffer
	code = run(full, &out, &errOut)
	return code, out.String(), errOut.String()
}

func (c *contactsDesk) mustCLI(args ...string) string {
	c.t.Helper()
	code, out, errOut := c.cli(args...)
	if code != 0 {
		c.t.Fatalf("maildesk contacts %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

type listed struct {
	Version   int64               `json:"version"`
	Source    string              `json:"source"`
	Customers []authz.CustomerRow `json:"customers"`
}

func (c *contactsDesk) list() listed {
	c.t.Helper()
	var l listed
	if err := json.Unmarshal([]byte(c.mustCLI("list", "--json")), &l); err != nil {
		c.t.Fatal(err)
	}
	return l
}

// emails lists "customer:email" of every contact, in order.
func (l listed) emails() string {
	var out []string
	for _, cu := range l.Customers {
		for _, ct := range cu.Contacts {
			out = append(out, cu.ID+":"+ct.Email)
		}
	}
	return strings.Join(out, " ")
}

func TestContactsImportYAMLAndCSV(t *testing.T) {
	c := newContactsDesk(t)
	if code, _, errOut := c.cli("list"); code != 1 || !strings.Contains(errOut, "no directory in Redis yet") {
		t.Errorf("list before any import: exit %d, %s", code, errOut)
	}

	out := c.mustCLI("import", filepath.Join(c.dir, "contacts.yaml"))
	if !strings.Contains(out, "imported 2 customers, 4 contacts") || !strings.Contains(out, "version 1") {
		t.Errorf("import output: %s", out)
	}
	l := c.list()
	if l.Version != 1 || l.emails() != "acme:jan@acme.example acme:piet@acme.example oxi:a@oxi.example oxi:b@oxi.example" {
		t.Errorf("after YAML import: %d %s", l.Version, l.emails())
	}
	b := l.Customers[1].Contacts[1]
	if b.MaxPriority != "P3" || b.ReceivesProgress == nil || *b.ReceivesProgress || !strings.Contains(l.Source, "sha256:") {
		t.Errorf("contact b = %+v, source %q", b, l.Source)
	}

	csv := c.write("export.csv", "customer,customer_name,plan,email,name,main,language,max_priority,receives_progress\n"+
		"globex,Globex,,Hank@Globex.example,Hank Scorpio,yes,en,,\n"+
		"globex,,,homer@globex.example,Homer,,,P2,no\n"+
		"oxi,Oxineo,oxineo,a@oxi.example,,true,,,\n")
	out = c.mustCLI("import", csv)
	if !strings.Contains(out, "imported 2 customers, 3 contacts from "+csv) {
		t.Errorf("CSV import output: %s", out)
	}
	l = c.list()
	if l.Version != 2 || l.emails() != "globex:hank@globex.example globex:homer@globex.example oxi:a@oxi.example" {
		t.Errorf("after CSV import: %d %s", l.Version, l.emails())
	}
	if h := l.Customers[0].Contacts[1]; h.MaxPriority != "P2" || *h.ReceivesProgress || l.Customers[0].Plan != "standard" {
		t.Errorf("CSV contact = %+v in %+v", h, l.Customers[0])
	}

	table := c.mustCLI("list")
	for _, want := range []string{
		"CUSTOMER  EMAIL", "MAX_PRIORITY  PROGRESS",
		"globex    hank@globex.example   Hank Scorpio  main  en",
		"globex    homer@globex.example  Homer                         P2            no",
		"directory version 2 from " + csv,
	} {
		if !strings.Contains(table, want) {
			t.Errorf("list table lacks %q:\n%s", want, table)
		}
	}
}

func TestContactsBadImportChangesNothing(t *testing.T) {
	c := newContactsDesk(t)
	c.mustCLI("import", filepath.Join(c.dir, "contacts.yaml"))
	before := c.list()

	bad := c.write("bad.csv", "customer,plan,email,main,language\n"+
		"acme,,jan@acme.example,true,nl\n"+
		"acme,,nobody,,\n"+
		"oxi,oxineo,a@oxi.example,,\n"+
		"oxi,oxineo,b@oxi.example,,\n"+
		"oxi,oxineo,c@oxi.example,,de\n"+
		"gold,gold,JAN@acme.example,maybe,\n")
	code, out, errOut := c.cli("import", bad)
	want := []string{
		bad + `:3: customers[0].contacts[1].email: is not a valid e-mail address (got "nobody")`,
		bad + ":6: customers[1].contacts[2]: customer oxi has 3 contacts; plan oxineo allows at most 2",
		bad + `:6: customers[1].contacts[2].language: must be empty or one of nl, en (got "de")`,
		bad + `:7: customers[2].contacts[0].main: must be true or false (got "maybe")`,
		bad + `:7: customers[2].plan: unknown plan "gold" (plans: oxineo, standard)`,
		bad + ":7: customers[2].contacts[0].email: jan@acme.example is already a contact of customer acme (line 2)",
		"maildesk: " + bad + " has 6 problem(s); nothing imported",
	}
	if code != 1 || out != "" || errOut != strings.Join(want, "\n")+"\n" {
		t.Errorf("exit %d\nstdout: %s\nstderr:\n%s\nwant:\n%s", code, out, errOut, strings.Join(want, "\n"))
	}

	badYAML := c.write("bad.yaml", "customers:\n  - id: acme\n    contacts:\n      - {email: x@acme.example, mian: true}\n")
	code, _, errOut = c.cli("import", badYAML)
	if code != 1 || !strings.Contains(errOut, badYAML+`:4: customers[0].contacts[0].mian: unknown field "mian" (did you mean "main"?)`) {
		t.Errorf("bad YAML: exit %d, %s", code, errOut)
	}
	if code, _, _ := c.cli("import", filepath.Join(c.dir, "missing.yaml")); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}

	after := c.list()
	if after.Version != before.Version || after.emails() != before.emails() {
		t.Errorf("a refused import changed the directory: %d %s", after.Version, after.emails())
	}
}

func TestContactsAddRemove(t *testing.T) {
	c := newContactsDesk(t)
	// No import yet: the first edit imports contacts_file under it.
	out := c.mustCLI("add", "--customer", "acme", "--email", "Kees@Acme.example", "--name", "Kees",
		"--language", "en", "--max-priority", "P2", "--no-progress")
	if !strings.Contains(out, "imported "+filepath.Join(c.dir, "contacts.yaml")+" first") || !strings.Contains(out, "added Kees@Acme.example to customer acme") {
		t.Errorf("add output: %s", out)
	}
	l := c.list()
	kees := l.Customers[0].Contacts[2]
	if l.Version != 2 || kees.Email != "kees@acme.example" || kees.Name != "Kees" || kees.Language != "en" ||
		kees.MaxPriority != "P2" || *kees.ReceivesProgress || kees.Main {
		t.Errorf("version %d, added %+v", l.Version, kees)
	}

	refused := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"duplicate address", []string{"--customer", "oxi", "--email", "KEES@acme.example"}, 1, "kees@acme.example is already a contact of customer acme"},
		{"plan max_contacts", []string{"--customer", "oxi", "--email", "c@oxi.example"}, 1, "customer oxi has 3 contacts; plan oxineo allows at most 2"},
		{"second main", []string{"--customer", "acme", "--email", "boss@acme.example", "--main"}, 1, "customer acme already has a main contact (jan@acme.example, contacts[0])"},
		{"bad address", []string{"--customer", "acme", "--email", "boss"}, 1, "is not a valid e-mail address"},
		{"bad language", []string{"--customer", "acme", "--email", "boss@acme.example", "--language", "fr"}, 1, "must be empty or one of nl, en"},
		{"bad priority", []string{"--customer", "acme", "--email", "boss@acme.example", "--max-priority", "urgent"}, 1, "P1, P2, P3, P4"},
		{"unknown customer", []string{"--customer", "nobody", "--email", "boss@acme.example"}, 1, "customer nobody: not found"},
		{"no email", []string{"--customer", "acme"}, 2, "needs --customer ID and --email ADDR"},
	}
	for _, tt := range refused {
		code, _, errOut := c.cli(append([]string{"add"}, tt.args...)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: exit %d, stderr %s; want exit %d with %q", tt.name, code, errOut, tt.code, tt.want)
		}
		if tt.code == 1 && strings.Contains(errOut, "not added") && !strings.Contains(errOut, "nothing changed") {
			t.Errorf("%s: stderr does not say nothing changed: %s", tt.name, errOut)
		}
	}
	if v := c.list().Version; v != 2 {
		t.Errorf("refused adds changed the version to %d", v)
	}

	c.mustCLI("remove", "b@oxi.example")
	c.mustCLI("add", "--customer", "oxi", "--email", "c@oxi.example")
	if got := c.list().emails(); got != "acme:jan@acme.example acme:piet@acme.example acme:kees@acme.example oxi:a@oxi.example oxi:c@oxi.example" {
		t.Errorf("after remove and add: %s", got)
	}
	if code, _, errOut := c.cli("remove", "b@oxi.example"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("removing an unknown contact: exit %d, %s", code, errOut)
	}
}

func TestContactsUsage(t *testing.T) {
	c := newContactsDesk(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"contacts"}, "contacts needs list, add, remove, import, erase or export"},
		{[]string{"contacts", "show"}, `unknown contacts command "show"`},
		{[]string{"contacts", "list"}, "needs --config FILE"},
		{[]string{"contacts", "list", "--config", c.config, "--email", "x@y.example"}, "contacts list does not take --email"},
		{[]string{"contacts", "remove", "--config", c.config}, "contacts remove needs one EMAIL"},
		{[]string{"contacts", "import", "--config", c.config}, "contacts import needs one PATH"},
		{[]string{"contacts", "list", "--config", c.config, "extra"}, "contacts list takes no arguments"},
		{[]string{"contacts", "erase", "--config", c.config}, "contacts erase needs one EMAIL"},
		{[]string{"contacts", "export", "--config", c.config, "a@x.example", "b@x.example"}, "contacts export needs one EMAIL"},
		{[]string{"contacts", "export", "--config", c.config, "--reference", "x", "a@x.example"}, "flag provided but not defined: -reference"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if code := run(tt.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%v: exit %d, %s; want exit 2 with %q", tt.args, code, errOut.String(), tt.want)
		}
	}
}

// testDaemon builds the daemon of the desk's config as `maildesk run` would,
// without starting its loops: enough to drive the directory's start,
// refresh and SIGHUP paths.
func (c *contactsDesk) daemon(log *testserver.Buffer) *daemon {
	c.t.Helper()
	cfg, err := configload.Load(c.config)
	if err != nil {
		c.t.Fatal(err)
	}
	d, err := newDaemon(cfg, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { d.rdb.Close() })
	return d
}

func TestDirectoryImportIfChanged(t *testing.T) {
	c := newContactsDesk(t)
	ctx := context.Background()
	log := &testserver.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", log.String())
		}
	})
	authorised := func(d *daemon, sender string) bool { return d.dir.Decide(sender).Authorised }

	// Start with no directory in Redis: the file is imported.
	d := c.daemon(log)
	if err := d.refreshDirectory(ctx); err != nil {
		t.Fatal(err)
	}
	if d.dir.Version() != 1 || !strings.Contains(log.String(), "contacts file imported") {
		t.Errorf("start: version %d", d.dir.Version())
	}

	// A CLI edit, then a restart with the file unchanged: the edit stays.
	c.mustCLI("add", "--customer", "acme", "--email", "kees@acme.example")
	if err := d.refreshDirectory(ctx); err != nil || !authorised(d, "kees@acme.example") {
		t.Errorf("the periodic refresh did not pick up the edit: %v", err)
	}
	d = c.daemon(log)
	if err := d.refreshDirectory(ctx); err != nil {
		t.Fatal(err)
	}
	if d.dir.Version() != 2 || !authorised(d, "kees@acme.example") {
		t.Errorf("restart with unchanged file: version %d, kees authorised %v", d.dir.Version(), authorised(d, "kees@acme.example"))
	}

	// SIGHUP with the file unchanged: nothing imported either.
	d.reloadContacts(ctx)
	if d.dir.Version() != 2 {
		t.Errorf("SIGHUP with unchanged file: version %d", d.dir.Version())
	}

	// The file changes: SIGHUP imports it, and the edit is gone.
	c.write("contacts.yaml", strings.Replace(contactsYAML, "Piet@Acme.example, name: Piet Pieters", "marie@acme.example, name: Marie", 1))
	d.reloadContacts(ctx)
	if d.dir.Version() != 3 || authorised(d, "kees@acme.example") || authorised(d, "piet@acme.example") || !authorised(d, "marie@acme.example") {
		t.Errorf("SIGHUP with changed file: version %d", d.dir.Version())
	}
	// Piet is now only at a known domain: refused, but his customer known.
	if dec := d.dir.Decide("piet@acme.example"); dec.Customer == nil || dec.Customer.ID != "acme" {
		t.Errorf("piet: %+v", dec)
	}

	// A broken file on SIGHUP: every problem logged, directory kept.
	c.write("contacts.yaml", "customers:\n  - id: acme\n    plan: gold\n    contacts:\n      - {email: nobody}\n")
	d.reloadContacts(ctx)
	if d.dir.Version() != 3 || !authorised(d, "marie@acme.example") {
		t.Errorf("a broken file changed the directory: version %d", d.dir.Version())
	}
	for _, want := range []string{`contacts.yaml:3: customers[0].plan: unknown plan \"gold\"`, `contacts.yaml:5: customers[0].contacts[0].email`, "the directory in use stays"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}

	// contacts import always imports, even an unchanged file.
	c.write("contacts.yaml", contactsYAML)
	c.mustCLI("import", filepath.Join(c.dir, "contacts.yaml"))
	c.mustCLI("import", filepath.Join(c.dir, "contacts.yaml"))
	if v := c.list().Version; v != 5 {
		t.Errorf("two imports of one file: version %d, want 5", v)
	}

	// Importing another file is not undone by a restart with contacts_file
	// unchanged.
	c.mustCLI("import", c.write("other.csv", "customer,email,main\nglobex,hank@globex.example,true\n"))
	d = c.daemon(log)
	if err := d.refreshDirectory(ctx); err != nil {
		t.Fatal(err)
	}
	if !authorised(d, "hank@globex.example") || authorised(d, "jan@acme.example") {
		t.Error("restart undid the import of another file")
	}
}

func TestDaemonStartsWithRedisDown(t *testing.T) {
	c := newContactsDesk(t)
	ctx := context.Background()
	log := &testserver.Buffer{}
	c.redis.Stop()
	d := c.daemon(log)
	down, cancel := context.WithTimeout(ctx, time.Second) // as the daemon's start does, shorter
	defer cancel()
	if err := d.refreshDirectory(down); err == nil {
		t.Fatal("refresh with Redis down succeeded")
	}
	if !d.dir.Decide("jan@acme.example").Authorised || d.dir.Decide("kees@acme.example").Customer == nil {
		t.Error("with Redis down the contacts file's customers are not in use")
	}
	c.redis.Restart(t)
	if err := d.refreshDirectory(ctx); err != nil {
		t.Fatal(err)
	}
	if d.dir.Version() != 1 || !strings.Contains(log.String(), "contacts file imported") {
		t.Errorf("after Redis came back: version %d\n%s", d.dir.Version(), log.String())
	}
}

// A customer moved to another plan (here by an import) gets its open
// tickets' deadlines moved too, in every replica that loads the change.
func TestPlanChangeMovesOpenTickets(t *testing.T) {
	c := newContactsDesk(t)
	ctx := context.Background()
	log := &testserver.Buffer{}
	d := c.daemon(log)
	if err := d.refreshDirectory(ctx); err != nil {
		t.Fatal(err)
	}
	arrival := time.Now().Add(-time.Hour).UTC()
	r, err := d.store.Create(ctx, "m1@acme.example", ticket.New{Subject: "x", Priority: "P3", Customer: "acme",
		Contact: "jan@acme.example", MessageID: "m1@acme.example", CreatedAt: arrival}, nil)
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(contactsYAML, "    domains: [acme.example]\n", "    domains: [acme.example]\n    plan: oxineo\n", 1)
	c.write("moved.yaml", moved)
	c.mustCLI("import", filepath.Join(c.dir, "moved.yaml"))
	if err := d.refreshDirectory(ctx); err != nil {
		t.Fatal(err)
	}
	tk, err := d.store.Get(ctx, r.Number)
	if err != nil {
		t.Fatal(err)
	}
	if tk.SLA == nil || tk.SLA.Plan != "oxineo" || !tk.SLA.FirstResponseDue.Equal(arrival.Add(4*time.Hour)) {
		t.Fatalf("after the move: %+v\n%s", tk.SLA, log.String())
	}
}
