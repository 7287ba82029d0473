package authz

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testconfig"
)

const base = testconfig.Base

const baseContacts = testconfig.Contacts

// withPlans is base with a plans section, appended at line 13.
const withPlans = base + `plans:
  standard: {}
  enhanced: {}
  premium: {}
  oxineo: {max_contacts: 2}
`

func testDir(t *testing.T, files map[string]string) string { return testconfig.Dir(t, files) }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// parseWith parses config with baseContacts (unless files overrides it),
// reads the contacts file as configload does, and returns the config or
// the problems of both.
func parseWith(t *testing.T, conf string, files, env map[string]string) (*config.Config, config.Problems) {
	t.Helper()
	all := map[string]string{"contacts.yaml": baseContacts}
	for k, v := range files {
		all[k] = v
	}
	dir := testDir(t, all)
	cfg, err := config.Parse([]byte(conf), dir, envOf(env))
	var ps config.Problems
	if err != nil && !errors.As(err, &ps) {
		t.Fatalf("Parse error is %T, not Problems: %v", err, err)
	}
	if cfg == nil {
		if len(ps) == 0 {
			t.Fatal("Parse returned neither config nor problems")
		}
		return nil, ps
	}
	LoadContacts(cfg, &ps)
	if len(ps) > 0 {
		ps.Sort()
		return nil, ps
	}
	return cfg, nil
}

func hasProblem(ps config.Problems, path, reason string) bool {
	for _, p := range ps {
		if p.Path == path && strings.Contains(p.Reason, reason) {
			return true
		}
	}
	return false
}

// The contacts file as LoadContacts reads it for a config: its customers
// normalised and with their defaults, the hash of its content.
func TestLoadContacts(t *testing.T) {
	cfg, ps := parseWith(t, base, nil, nil)
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"customers", len(cfg.Customers), 1},
		{"contact email lower-cased", cfg.Customers[0].Contacts[0].Email, "jan@acme.example"},
		{"contact main", cfg.Customers[0].Contacts[0].Main, true},
		{"customer plan", cfg.Customers[0].Plan, "standard"},
		{"receives_progress", *cfg.Customers[0].Contacts[1].ReceivesProgress, true},
		{"contacts sha256", strings.HasPrefix(cfg.ContactsSHA256, "sha256:") && len(cfg.ContactsSHA256) == 71, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// A contacts file that cannot be read is a problem of contacts_file in the
// config, at its line.
func TestContactsFileUnreadable(t *testing.T) {
	_, ps := parseWith(t, strings.Replace(base, "contacts_file: contacts.yaml", "contacts_file: nope.yaml", 1), nil, nil)
	if len(ps) != 1 || ps[0].Path != "contacts_file" || ps[0].Line != 12 || !strings.Contains(ps[0].Reason, "cannot read contacts file") {
		t.Errorf("got:\n%v", ps)
	}
}

// MAILDESK_CONTACTS_FILE names the file read.
func TestContactsFileFromEnv(t *testing.T) {
	cfg, ps := parseWith(t, base, map[string]string{"other/contacts.yaml": "customers: []\n"},
		map[string]string{"MAILDESK_CONTACTS_FILE": "other/contacts.yaml"})
	if ps != nil {
		t.Fatal(ps)
	}
	if len(cfg.Customers) != 0 || !strings.HasSuffix(cfg.ContactsFile, filepath.Join("other", "contacts.yaml")) {
		t.Errorf("%d customers from %s", len(cfg.Customers), cfg.ContactsFile)
	}
}

func TestCustomerRules(t *testing.T) {
	tests := []struct {
		name     string
		config   string // default withPlans
		contacts string
		path     string
		line     int
		reason   string
	}{
		{"unknown plan", "", `customers:
  - id: acme
    plan: gold
`, "customers[0].plan", 3, `unknown plan "gold" (plans: enhanced, oxineo, premium, standard)`},
		{"implicit standard plan missing", base + "plans:\n  gold: {}\n", `customers:
  - id: acme
`, "customers[0].plan", 2, `unknown plan "standard" (customers without a plan are on standard; plans: gold)`},
		{"too many contacts for the plan", "", `customers:
  - id: oxi
    plan: oxineo
    contacts:
      - {email: a@oxi.example, main: true}
      - {email: b@oxi.example}
      - {email: c@oxi.example}
`, "customers[0].contacts[2]", 7, "customer oxi has 3 contacts; plan oxineo allows at most 2"},
		{"domain invalid", "", `customers:
  - id: acme
    domains: [acme.example, "acme..example"]
`, "customers[0].domains[1]", 3, `must be a host name like acme.example (got "acme..example": idna: invalid label`},
		{"domain without dot", "", `customers:
  - id: acme
    domains: [acme]
`, "customers[0].domains[0]", 3, `must be a domain like acme.example (got "acme")`},
		{"domain with space", "", `customers:
  - id: acme
    domains:
      - "acme .example"
`, "customers[0].domains[0]", 4, `(got "acme .example": idna: disallowed rune U+0020)`},
		{"domain duplicate across customers (IDNA)", "", `customers:
  - id: acme
    domains: [xn--bcher-kva.example]
  - id: globex
    domains:
      - Bücher.Example
`, "customers[1].domains[0]", 6, "xn--bcher-kva.example is already a domain of customer acme (line 3)"},
		{"authorise_domains without domains", "", `customers:
  - id: acme
    authorise_domains: true
`, "customers[0].authorise_domains", 3, "needs domains"},
		{"manager email invalid", "", `customers:
  - id: acme
    managers:
      - {name: Boss, email: boss}
`, "customers[0].managers[0].email", 4, `not a valid e-mail address (got "boss")`},
		{"manager email missing", "", `customers:
  - id: acme
    managers:
      - {name: Boss}
`, "customers[0].managers[0].email", 4, "is required"},
		{"max_priority", "", `customers:
  - id: acme
    contacts:
      - {email: jan@acme.example, max_priority: high}
`, "customers[0].contacts[0].max_priority", 4, `must be empty or one of P1, P2, P3, P4 (got "high")`},
		{"receives_progress type", "", `customers:
  - id: acme
    contacts:
      - {email: jan@acme.example, receives_progress: often}
`, "customers[0].contacts[0].receives_progress", 4, "true or false"},
		{"email duplicate by IDNA", "", `customers:
  - id: acme
    contacts:
      - {email: jan@xn--bcher-kva.example}
  - id: globex
    contacts:
      - {email: Jan@BÜCHER.example}
`, "customers[1].contacts[0].email", 7, "jan@xn--bcher-kva.example is already a contact of customer acme (line 4)"},
		{"email bad domain", "", `customers:
  - id: acme
    contacts:
      - {email: "jan@acme_bv.example"}
`, "customers[0].contacts[0].email", 4, `is not a valid e-mail address (got "jan@acme_bv.example": domain: idna: disallowed rune U+005F)`},
		{"require_authentication without trusted ids", "", `customers:
  - id: acme
    require_authentication: true
`, "customers[0].require_authentication", 3, "needs at least one authz.trusted_authserv_ids"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := tt.config
			if conf == "" {
				conf = withPlans
			}
			_, ps := parseWith(t, conf, map[string]string{"contacts.yaml": tt.contacts}, nil)
			wantOneProblem(t, ps, tt.line, tt.path, tt.reason)
		})
	}
}

// wantOneProblem checks that ps is the one problem at contacts.yaml:line,
// path, whose reason contains reason.
func wantOneProblem(t *testing.T, ps config.Problems, line int, path, reason string) {
	t.Helper()
	for _, p := range ps {
		if p.File == "contacts.yaml" && p.Path == path && p.Line == line && strings.Contains(p.Reason, reason) {
			if len(ps) > 1 {
				t.Errorf("one mistake gave more than one problem:\n%v", ps)
			}
			return
		}
	}
	t.Errorf("want problem contacts.yaml:%d: %s: ...%s...; got:\n%v", line, path, reason, ps)
}

func TestCustomerNormalisation(t *testing.T) {
	cfg, ps := parseWith(t, withPlans+"authz:\n  trusted_authserv_ids: [mx.desk.example]\n", map[string]string{"contacts.yaml": `customers:
  - id: oxi
    plan: enhanced
    require_authentication: true
    domains: [Oxi.Example., bücher.example]
    authorise_domains: true
    managers: [{email: Boss@Desk.Example}]
    contacts:
      - {email: Jan@Bücher.Example, main: true, max_priority: P2, receives_progress: false}
      - {email: piet@oxi.example}
`}, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	cu := cfg.Customers[0]
	if !reflect.DeepEqual(cu.Domains, []string{"oxi.example", "xn--bcher-kva.example"}) {
		t.Errorf("domains = %q", cu.Domains)
	}
	if cu.Managers[0].Email != "boss@desk.example" {
		t.Errorf("manager = %q", cu.Managers[0].Email)
	}
	jan, piet := cu.Contacts[0], cu.Contacts[1]
	if jan.Email != "jan@xn--bcher-kva.example" || *jan.ReceivesProgress || jan.MaxPriority != "P2" || !*piet.ReceivesProgress {
		t.Errorf("contacts = %+v %+v", jan, piet)
	}
	if m := cu.MainContact(); m == nil || m.Email != jan.Email {
		t.Errorf("MainContact = %v", m)
	}
}

func TestParseContactsCSV(t *testing.T) {
	plans := map[string]config.Plan{"standard": {}, "oxineo": {MaxContacts: 2}}
	csv := "\xef\xbb\xbfcustomer;customer_name;plan;email;name;main;language;max_priority;receives_progress\n" +
		"acme;Acme BV;;Jan@Acme.example;Jan Jansen;yes;nl;;\n" +
		"# a comment\n" +
		"acme;;;piet@acme.example;\"Pieters; Piet\";;;P2;no\n" +
		"oxi;Oxineo;oxineo;a@oxi.example;;true;en;;\n"
	cs, err := ParseContacts([]byte(csv), "contacts.txt", plans)
	if err != nil {
		t.Fatal(err)
	}
	no := false
	want := []config.Customer{
		{ID: "acme", Name: "Acme BV", Plan: "standard", Contacts: []config.Contact{
			{Email: "jan@acme.example", Name: "Jan Jansen", Main: true, Language: "nl", ReceivesProgress: ptr(true)},
			{Email: "piet@acme.example", Name: "Pieters; Piet", MaxPriority: "P2", ReceivesProgress: &no},
		}},
		{ID: "oxi", Name: "Oxineo", Plan: "oxineo", Contacts: []config.Contact{
			{Email: "a@oxi.example", Main: true, Language: "en", ReceivesProgress: ptr(true)},
		}},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Errorf("got  %+v\nwant %+v", cs, want)
	}

	// Column order is free and optional columns may be left out.
	cs, err = ParseContacts([]byte("email,customer\njan@acme.example,acme\n"), "x.csv", nil)
	if err != nil || len(cs) != 1 || cs[0].Contacts[0].Email != "jan@acme.example" || cs[0].Plan != "standard" {
		t.Errorf("minimal CSV: %+v, %v", cs, err)
	}
	// Spreadsheet leftovers: unnamed columns and empty rows.
	cs, err = ParseContacts([]byte("customer,email,,\r\nacme,jan@acme.example,,\r\n,,,\r\n"), "x.csv", nil)
	if err != nil || len(cs) != 1 || len(cs[0].Contacts) != 1 {
		t.Errorf("spreadsheet export: %+v, %v", cs, err)
	}
	// A header alone is an empty directory.
	cs, err = ParseContacts([]byte("customer,email\n"), "x.csv", nil)
	if err != nil || len(cs) != 0 {
		t.Errorf("header only: %+v, %v", cs, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestParseContactsCSVProblems(t *testing.T) {
	plans := map[string]config.Plan{"standard": {}, "oxineo": {MaxContacts: 2}}
	csv := `customer,plan,email,name,main,max_priority
acme,,jan@acme.example,Jan,true,
acme,,nobody,Nobody,,
oxi,oxineo,a@oxi.example,,maybe,
oxi,oxineo,b@oxi.example,,,P9
oxi,oxineo,c@oxi.example,,,
globex,gold,JAN@acme.example,,,
acme,,kees@acme.example,,,
acme,only,three
`
	_, err := ParseContacts([]byte(csv), "people.csv", plans)
	var ps config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	want := []string{
		`people.csv:3: customers[0].contacts[1].email: is not a valid e-mail address (got "nobody")`,
		`people.csv:4: customers[1].contacts[0].main: must be true or false (got "maybe")`,
		`people.csv:5: customers[1].contacts[1].max_priority: must be empty or one of P1, P2, P3, P4 (got "P9")`,
		`people.csv:6: customers[1].contacts[2]: customer oxi has 3 contacts; plan oxineo allows at most 2`,
		`people.csv:7: customers[2].plan: unknown plan "gold" (plans: oxineo, standard)`,
		`people.csv:7: customers[2].contacts[0].email: jan@acme.example is already a contact of customer acme (line 2)`,
		`people.csv:8: customers[0].id: rows of customer acme must be together; its rows start at line 2`,
		`people.csv:9: has 3 fields, the header has 6`,
	}
	got := strings.Split(ps.Error(), "\n")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseContactsCSVHeaderProblems(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"unknown column", "customer,email,mail\nacme,a@acme.example,x\n", `c.csv:1: unknown column "mail" (did you mean "email"?); columns are customer, customer_name`},
		{"missing email", "customer,name\nacme,Jan\n", `c.csv:1: missing column "email"`},
		{"duplicate column", "customer,email,Email\nacme,a@b.example,c@d.example\n", `c.csv:1: column "email" appears twice`},
		{"bad quote", "customer,email\nacme,\"a@b.example\nx\"y,z\n", `c.csv:3: invalid CSV`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseContacts([]byte(tt.data), "c.csv", nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestContactsFormatDetection(t *testing.T) {
	tests := []struct {
		name, file string
		csv        bool
	}{
		{"people.csv", "customer,email\n", true},
		{"PEOPLE.CSV", "", true},
		{"contacts.yaml", "customers:\n  - id: acme\n", false},
		{"contacts", "Customer , Email,name\n", true},
		{"contacts", "\"customer\";\"email\"\n", true},
		{"contacts", "# customer,email\ncustomers: []\n", false},
	}
	for _, tt := range tests {
		if got := looksLikeCSV(tt.name, []byte(tt.file)); got != tt.csv {
			t.Errorf("looksLikeCSV(%q, %q) = %v", tt.name, tt.file, got)
		}
	}
}

func TestContactsFileAsCSV(t *testing.T) {
	conf := strings.Replace(base, "contacts_file: contacts.yaml", "contacts_file: contacts.csv", 1)
	cfg, ps := parseWith(t, conf, map[string]string{"contacts.csv": "customer,email,main\nacme,Jan@Acme.example,true\n"}, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	if len(cfg.Customers) != 1 || cfg.Customers[0].Contacts[0].Email != "jan@acme.example" {
		t.Errorf("customers = %+v", cfg.Customers)
	}
	_, ps = parseWith(t, conf, map[string]string{"contacts.csv": "customer,email\nacme,nobody\n"}, nil)
	if len(ps) != 1 || ps[0].File != "contacts.csv" || ps[0].Line != 2 {
		t.Errorf("problems = %v", ps)
	}
}

func TestParseContactsYAMLProblems(t *testing.T) {
	_, err := ParseContacts([]byte(`customers:
  - id: acme
    contacts:
      - {email: jan@acme.example}
  - id: acme
    contacts:
      - {email: jan@acme.example, language: fr}
`), "import.yaml", nil)
	want := []string{
		"import.yaml:5: customers[1].id: acme is already the id of customers[0] (line 2)",
		"import.yaml:7: customers[1].contacts[0].email: jan@acme.example is already a contact of customer acme (line 4)",
		`import.yaml:7: customers[1].contacts[0].language: must be empty or one of nl, en (got "fr")`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("got:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestValidateCustomers(t *testing.T) {
	cs := []config.Customer{
		{ID: "oxi", Plan: "oxineo", Contacts: []config.Contact{{Email: "A@Oxi.example"}, {Email: "b@oxi.example"}, {Email: "c@oxi.example"}}},
		{ID: "acme", Contacts: []config.Contact{{Email: "a@oxi.example"}}},
	}
	ps := ValidateCustomers(cs, map[string]config.Plan{"standard": {}, "oxineo": {MaxContacts: 2}})
	want := "customers[0].contacts[2]: customer oxi has 3 contacts; plan oxineo allows at most 2\n" +
		"customers[1].contacts[0].email: a@oxi.example is already a contact of customer oxi"
	if ps.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", ps, want)
	}
	if cs[0].Contacts[0].Email != "a@oxi.example" || cs[1].Plan != "standard" {
		t.Errorf("not normalised: %+v", cs)
	}
	if ps := ValidateCustomers([]config.Customer{{ID: "acme"}}, nil); ps != nil {
		t.Errorf("nil plans mean the default plan: %v", ps)
	}
}

func TestReadContacts(t *testing.T) {
	dir := testDir(t, map[string]string{"maildesk.yaml": base, "contacts.yaml": baseContacts})
	cfg, err := config.Load(filepath.Join(dir, "maildesk.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var loaded config.Problems
	if LoadContacts(cfg, &loaded); loaded != nil {
		t.Fatal(loaded)
	}
	cs, sum, err := ReadContacts(cfg)
	if err != nil || sum != cfg.ContactsSHA256 || !reflect.DeepEqual(cs, cfg.Customers) {
		t.Fatalf("ReadContacts = %v, %q, %v; LoadContacts had %q", cs, sum, err, cfg.ContactsSHA256)
	}
	if err := os.WriteFile(cfg.ContactsFile, []byte("customers:\n  - id: acme\n    plan: gold\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = ReadContacts(cfg)
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].File != cfg.ContactsFile || ps[0].Line != 3 {
		t.Errorf("err = %v", err)
	}
	os.Remove(cfg.ContactsFile)
	if _, _, err = ReadContacts(cfg); err == nil || errors.As(err, &ps) {
		t.Errorf("missing file: err = %v, want an I/O error", err)
	}
}

// FuzzParseContacts: imports come from spreadsheets and other programs, so
// no input may panic, every failure must be Problems with a line inside the
// file, and whatever passes must pass again (normalising twice
// changes nothing).
func FuzzParseContacts(f *testing.F) {
	f.Add([]byte("customer;email;main\nacme;Jan@Bücher.example;yes\n"), true)
	f.Add([]byte("customer,email\nacme,\"a@b.example\nx\"\n"), true)
	f.Add([]byte(baseContacts), false)
	plans := map[string]config.Plan{"standard": {}, "two": {MaxContacts: 2}}
	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		name := "contacts.yaml"
		if csv {
			name = "contacts.csv"
		}
		cs, err := ParseContacts(data, name, plans)
		if err != nil {
			var ps config.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error is not Problems: %v", err)
			}
			// YAML also breaks lines at CR, NEL and U+2028: bound by size.
			lines := len(data) + 1
			for _, p := range ps {
				if p.Line < 0 || p.Line > lines || p.Reason == "" || p.File != name {
					t.Fatalf("malformed problem %#v in a file of %d lines", p, lines)
				}
			}
			return
		}
		if ps := ValidateCustomers(cs, plans); ps != nil {
			t.Fatalf("accepted customers fail validation again: %v", ps)
		}
	})
}

// A plan that caps the contacts who may report and a customer authorising
// its whole domain contradict each other (Oxineo: at most 2 contact
// persons): check-config names both.
func TestMaxContactsAgainstAuthoriseDomains(t *testing.T) {
	_, ps := parseWith(t, withPlans, map[string]string{"contacts.yaml": `customers:
  - id: oxi
    name: Oxi Klant
    plan: oxineo
    domains: [oxi.example]
    authorise_domains: true
    contacts:
      - {email: a@oxi.example, main: true}
`}, nil)
	if !hasProblem(ps, "customers[0].authorise_domains", "plans.oxineo.max_contacts") {
		t.Errorf("problems: %v", ps)
	}
}

// A contract's term: dates, and an end not before the start.
func TestCustomerTerm(t *testing.T) {
	_, ps := parseWith(t, base, map[string]string{"contacts.yaml": `customers:
  - id: acme
    active_from: 2027-02-01
    active_until: 2027-01-31
    contacts: [{email: jan@acme.example, main: true}]
  - id: oxi
    active_from: 1-2-2027
    contacts: [{email: a@oxi.example, main: true}]
`}, nil)
	if !hasProblem(ps, "customers[0].active_until", "is before active_from") || !hasProblem(ps, "customers[1].active_from", "must be a date") {
		t.Errorf("problems: %v", ps)
	}
}

// Oxineo: "Een afgesloten contract begint altijd op de eerste dag van een
// maand en eindigt op de laatste dag van een maand": a plan with term
// monthly refuses other dates, naming the customer and the plan.
func TestMonthlyTerm(t *testing.T) {
	plans := base + `plans:
  support: {term: monthly}
  other: {}
`
	_, ps := parseWith(t, plans, map[string]string{"contacts.yaml": `customers:
  - id: ok
    plan: support
    active_from: 2026-03-01
    active_until: 2028-02-29
    contacts: [{email: a@ok.example, main: true}]
  - id: mid
    plan: support
    active_from: 2026-03-15
    active_until: 2026-12-30
    contacts: [{email: a@mid.example, main: true}]
  - id: free
    plan: other
    active_from: 2026-03-15
    contacts: [{email: a@free.example, main: true}]
`}, nil)
	if !hasProblem(ps, "customers[1].active_from", "start on the first of a month (plans.support.term: monthly)") ||
		!hasProblem(ps, "customers[1].active_until", "end on the last day of a month") || len(ps) != 2 {
		t.Errorf("problems: %v", ps)
	}
	if _, ps := parseWith(t, base+"plans:\n  support: {term: yearly}\n", nil, nil); !hasProblem(ps, "plans.support.term", "must be empty") {
		t.Errorf("a bad term: %v", ps)
	}
}

func TestContactsProblems(t *testing.T) {
	tests := []struct {
		name     string
		contacts string
		path     string
		line     int
		reason   string
	}{
		{"customer id missing", `customers:
  - name: Acme
    contacts: []
`, "customers[0].id", 2, "is required"},
		{"customer id bad", `customers:
  - id: "acme:bv"
`, "customers[0].id", 2, "lower-case"},
		{"customer id duplicate", `customers:
  - id: acme
  - id: globex
  - id: acme
`, "customers[2].id", 4, "acme is already the id of customers[0] (line 2)"},
		{"email missing", `customers:
  - id: acme
    contacts:
      - {name: Jan}
`, "customers[0].contacts[0].email", 4, "is required"},
		{"email invalid", `customers:
  - id: acme
    contacts:
      - {email: jan@acme.example}
      - {email: "Piet <piet@acme.example>"}
`, "customers[0].contacts[1].email", 5, "bare e-mail address"},
		{"email duplicate across customers", `customers:
  - id: acme
    contacts:
      - email: jan@acme.example
  - id: globex
    contacts:
      - email: JAN@acme.example
`, "customers[1].contacts[0].email", 7, "jan@acme.example is already a contact of customer acme (line 4)"},
		{"email duplicate within customer", `customers:
  - id: acme
    contacts:
      - {email: jan@acme.example}
      - {email: jan@acme.example}
`, "customers[0].contacts[1].email", 5, "already a contact of customer acme"},
		{"language", `customers:
  - id: acme
    contacts:
      - {email: jan@acme.example, language: de}
`, "customers[0].contacts[0].language", 4, `must be empty or one of nl, en (got "de")`},
		{"two main contacts", `customers:
  - id: acme
    contacts:
      - {email: jan@acme.example, main: true}
      - {email: piet@acme.example}
      - {email: kees@acme.example, main: true}
`, "customers[0].contacts[2].main", 6, "customer acme already has a main contact (jan@acme.example, contacts[0], line 4)"},
		{"unknown key", `customers:
  - id: acme
    contacts:
      - {email: jan@acme.example, mian: true}
`, "customers[0].contacts[0].mian", 4, `unknown field "mian" (did you mean "main"?)`},
		{"wrong type in flow mapping", `customers:
  - id: acme
    contacts:
      - {email: jan@acme.example, main: maybe, name: Jan}
`, "customers[0].contacts[0].main", 4, `must be true or false (got "maybe")`},
		{"customers not a list", `customers: acme
`, "customers", 1, `must be a list (got "acme")`},
		{"unknown top-level key", `customer:
  - id: acme
`, "customer", 1, `did you mean "customers"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := parseWith(t, base, map[string]string{"contacts.yaml": tt.contacts}, nil)
			wantOneProblem(t, ps, tt.line, tt.path, tt.reason)
		})
	}
}

func TestEmptyContactsFileIsValid(t *testing.T) {
	cfg, ps := parseWith(t, base, map[string]string{"contacts.yaml": "# nobody yet\n"}, nil)
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	if len(cfg.Customers) != 0 {
		t.Errorf("Customers = %v, want none", cfg.Customers)
	}
}
