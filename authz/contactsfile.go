package authz

// The contacts file (contacts_file): reading it, YAML or CSV, and checking
// it as a whole. Its schema is config's (config.ContactsFile); the problems
// name the file, line and field through config's Reporter, so that
// check-config shows them with the config's own.

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/config"
)

// maxContactsSize bounds the contacts file read.
const maxContactsSize = 64 << 20

// ParseContacts reads a contacts file, YAML or CSV (see parseCSV), and
// validates it as a whole against plans (nil means the default plans). It is
// what LoadContacts does with contacts_file, callable on its own so that an
// import is checked by the same rules before anything changes. name is used in the
// problems and to recognise CSV by its extension. The error is a config.Problems
// value naming name and the line of each problem.
func ParseContacts(data []byte, name string, plans map[string]config.Plan) ([]config.Customer, error) {
	var ps config.Problems
	cs := parseContacts(&ps, data, name, plans, nil)
	if len(ps) > 0 {
		ps.Sort()
		return nil, ps
	}
	return cs, nil
}

// LoadContacts reads and checks cfg's contacts file (cfg.ContactsFile,
// resolved by config.Load) into cfg.Customers and cfg.ContactsSHA256,
// appending its problems to out: a file that cannot be read at
// contacts_file in the config, the file's own under the name it was given
// by. Without a contacts_file, which config reports, it does nothing.
func LoadContacts(cfg *config.Config, out *config.Problems) {
	if cfg.ContactsFile == "" {
		return
	}
	data, err := config.ReadLimited(cfg.ContactsFile, maxContactsSize)
	if err != nil {
		cfg.Reporter(out).Addf("contacts_file", "cannot read contacts file: %v", err)
		return
	}
	cfg.ContactsSHA256 = SHA256(data)
	cfg.Customers = parseContacts(out, data, cfg.ContactsFileGiven, cfg.Plans, &cfg.Authz)
}

// ReadContacts reads and validates cfg's contacts file again, as
// LoadContacts did, for a reload. sum is "sha256:<hex>" of the content read.
func ReadContacts(cfg *config.Config) (customers []config.Customer, sum string, err error) {
	data, err := config.ReadLimited(cfg.ContactsFile, maxContactsSize)
	if err != nil {
		return nil, "", fmt.Errorf("reading contacts file: %w", err)
	}
	cs, err := CheckContacts(cfg, data, cfg.ContactsFile)
	if err != nil {
		return nil, "", err
	}
	return cs, SHA256(data), nil
}

// CheckContacts is ParseContacts with cfg's plans, plus the checks that need
// the rest of the config (a customer requiring authentication needs
// trusted authserv-ids): for importing a file other than contacts_file.
func CheckContacts(cfg *config.Config, data []byte, name string) ([]config.Customer, error) {
	var ps config.Problems
	cs := parseContacts(&ps, data, name, cfg.Plans, &cfg.Authz)
	if len(ps) > 0 {
		ps.Sort()
		return nil, ps
	}
	return cs, nil
}

// SHA256 is the content hash recorded for an imported contacts file.
func SHA256(data []byte) string {
	h := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(h[:])
}

// ValidateCustomers checks customers as a whole by the contacts file's rules
// and normalises them in place (addresses, domains, plan, progress flag), for
// changes that do not come from a file, such as adding one contact. The problems
// carry paths but no file or line.
func ValidateCustomers(customers []config.Customer, plans map[string]config.Plan) config.Problems {
	var ps config.Problems
	validateCustomers(config.NewReporter(&ps, ""), customers, plansOrDefault(plans))
	return ps
}

func plansOrDefault(plans map[string]config.Plan) map[string]config.Plan {
	if len(plans) == 0 {
		return map[string]config.Plan{config.DefaultPlan: {}}
	}
	return plans
}

// parseContacts appends the problems of one contacts file to out. authz, when
// not nil, adds the checks that need the config's authz section.
func parseContacts(out *config.Problems, data []byte, name string, plans map[string]config.Plan, authz *config.Authz) []config.Customer {
	var (
		cs []config.Customer
		c  *config.Reporter
	)
	if looksLikeCSV(name, data) {
		cs, c = parseCSV(out, name, data)
		if c == nil {
			return nil
		}
	} else {
		var cf config.ContactsFile
		var ok bool
		if c, ok = config.DecodeFile(out, name, data, &cf); !ok {
			return nil
		}
		cs = cf.Customers
	}
	validateCustomers(c, cs, plansOrDefault(plans))
	if authz != nil && len(authz.TrustedAuthservIDs) == 0 {
		for i, cu := range cs {
			if cu.RequireAuthentication != nil && *cu.RequireAuthentication {
				c.Add(fmt.Sprintf("customers[%d].require_authentication", i),
					"needs at least one authz.trusted_authserv_ids entry in the config: without one no mail can pass")
			}
		}
	}
	return cs
}

// at formats a line reference, or nothing when the line is unknown (changes
// that do not come from a file).
func at(line int) string {
	if line <= 0 {
		return ""
	}
	return fmt.Sprintf(" (line %d)", line)
}

func validateCustomers(c *config.Reporter, customers []config.Customer, plans map[string]config.Plan) {
	type first struct {
		label string
		line  int
	}
	planNames := make([]string, 0, len(plans))
	for name := range plans {
		planNames = append(planNames, name)
	}
	sort.Strings(planNames)
	ids := map[string]first{}
	emails := map[string]first{}
	domains := map[string]first{}
	for i := range customers {
		cu := &customers[i]
		cp := fmt.Sprintf("customers[%d]", i)
		label := cu.ID
		switch {
		case cu.ID == "":
			c.Add(cp+".id", "is required")
			label = cp
		case !config.ValidID(cu.ID):
			c.Addf(cp+".id", "%s (got %q)", config.IDRule, cu.ID)
		default:
			if f, dup := ids[cu.ID]; dup {
				c.Addf(cp+".id", "%s is already the id of %s%s", cu.ID, f.label, at(f.line))
			} else {
				ids[cu.ID] = first{cp, c.Line(cp + ".id")}
			}
		}

		implicit := cu.Plan == ""
		if implicit {
			cu.Plan = config.DefaultPlan
		}
		plan, ok := plans[cu.Plan]
		if !ok {
			why := ""
			if implicit {
				why = "customers without a plan are on " + config.DefaultPlan + "; "
			}
			c.Addf(cp+".plan", "unknown plan %q (%splans: %s)", cu.Plan, why, strings.Join(planNames, ", "))
		}

		for j, dom := range cu.Domains {
			p := fmt.Sprintf("%s.domains[%d]", cp, j)
			nd, err := address.NormaliseDomain(dom)
			switch {
			case err != nil:
				c.Addf(p, "must be a host name like acme.example (got %q: %v)", dom, err)
				continue
			case !strings.Contains(nd, "."):
				c.Addf(p, "must be a domain like acme.example (got %q)", dom)
				continue
			}
			cu.Domains[j] = nd
			if f, dup := domains[nd]; dup {
				c.Addf(p, "%s is already a domain of customer %s%s", nd, f.label, at(f.line))
			} else {
				domains[nd] = first{label, c.Line(p)}
			}
		}
		if cu.AuthoriseDomains && len(cu.Domains) == 0 {
			c.Add(cp+".authorise_domains", "needs domains: it authorises every address at the customer's domains")
		}

		for j := range cu.Managers {
			p := fmt.Sprintf("%s.managers[%d].email", cp, j)
			normaliseEmail(c, p, &cu.Managers[j].Email)
		}

		for _, d := range []struct{ key, v string }{{"active_from", cu.ActiveFrom}, {"active_until", cu.ActiveUntil}} {
			if _, err := time.Parse(time.DateOnly, d.v); d.v != "" && err != nil {
				c.Addf(cp+"."+d.key, "must be a date like 2027-01-31 (got %q)", d.v)
			}
		}
		if cu.ActiveFrom != "" && cu.ActiveUntil != "" && cu.ActiveUntil < cu.ActiveFrom {
			c.Addf(cp+".active_until", "is before active_from (%s)", cu.ActiveFrom)
		}
		if plan.Term == config.TermMonthly {
			// A date off the month's edge is a typo or a contract this plan
			// does not sell; either way the desk would refuse or serve the
			// wrong days.
			if d, err := time.Parse(time.DateOnly, cu.ActiveFrom); err == nil && d.Day() != 1 {
				c.Addf(cp+".active_from", "customer %s is on plan %s, whose contracts start on the first of a month (plans.%s.term: %s): got %s",
					label, cu.Plan, cu.Plan, config.TermMonthly, cu.ActiveFrom)
			}
			if d, err := time.Parse(time.DateOnly, cu.ActiveUntil); err == nil && d.AddDate(0, 0, 1).Day() != 1 {
				c.Addf(cp+".active_until", "customer %s is on plan %s, whose contracts end on the last day of a month (plans.%s.term: %s): got %s",
					label, cu.Plan, cu.Plan, config.TermMonthly, cu.ActiveUntil)
			}
		}
		cu.Suspended = strings.TrimSpace(cu.Suspended)
		if plan.MaxContacts > 0 && cu.AuthoriseDomains {
			// Anyone at the domain could then report: the cap means nothing.
			c.Addf(cp+".authorise_domains", "customer %s is on plan %s, which allows at most %d contacts (plans.%s.max_contacts): "+
				"authorise_domains would let every address at its domains open tickets; list the contacts instead",
				label, cu.Plan, plan.MaxContacts, cu.Plan)
		}
		if plan.MaxContacts > 0 && len(cu.Contacts) > plan.MaxContacts {
			c.Addf(fmt.Sprintf("%s.contacts[%d]", cp, plan.MaxContacts),
				"customer %s has %d contacts; plan %s allows at most %d", label, len(cu.Contacts), cu.Plan, plan.MaxContacts)
		}
		mainAt := ""
		for j := range cu.Contacts {
			ct := &cu.Contacts[j]
			p := fmt.Sprintf("%s.contacts[%d]", cp, j)
			if normaliseEmail(c, p+".email", &ct.Email) {
				if f, dup := emails[ct.Email]; dup {
					c.Addf(p+".email", "%s is already a contact of customer %s%s", ct.Email, f.label, at(f.line))
				} else {
					emails[ct.Email] = first{label, c.Line(p + ".email")}
				}
			}
			if ct.Language != "" && ct.Language != "nl" && ct.Language != "en" {
				c.Addf(p+".language", "must be empty or one of nl, en (got %q)", ct.Language)
			}
			if !config.ValidPriority(ct.MaxPriority) {
				c.Addf(p+".max_priority", "must be empty or one of P1, P2, P3, P4 (got %q)", ct.MaxPriority)
			}
			if ct.ReceivesProgress == nil {
				yes := true
				ct.ReceivesProgress = &yes
			}
			if ct.Main {
				if mainAt != "" {
					c.Addf(p+".main", "customer %s already has a main contact (%s)", label, mainAt)
				} else {
					mainAt = fmt.Sprintf("contacts[%d]", j)
					if l := c.Line(p); l > 0 {
						mainAt += fmt.Sprintf(", line %d", l)
					}
					if ct.Email != "" {
						mainAt = ct.Email + ", " + mainAt
					}
				}
			}
		}
	}
}

// normaliseEmail checks a required address and puts it in canonical form. It
// reports whether the address is usable.
func normaliseEmail(c *config.Reporter, path string, email *string) bool {
	if *email == "" {
		c.Add(path, "is required")
		return false
	}
	if err := address.CheckBare(*email); err != nil {
		c.Add(path, err.Error())
		return false
	}
	n, err := address.Normalise(*email)
	if err != nil {
		c.Addf(path, "is not a valid e-mail address (got %q: %v)", *email, err)
		return false
	}
	// Local parts are case-sensitive in theory only; senders write them in
	// any case and must still be recognised.
	*email = n
	return true
}

var utf8BOM = []byte("\xef\xbb\xbf")

// looksLikeCSV: a .csv name, or a first line that is a header naming at
// least the customer and email columns (YAML cannot start that way).
func looksLikeCSV(name string, data []byte) bool {
	if strings.EqualFold(filepath.Ext(name), ".csv") {
		return true
	}
	line, _, _ := bytes.Cut(bytes.TrimPrefix(data, utf8BOM), []byte("\n"))
	cols := map[string]bool{}
	for _, f := range strings.FieldsFunc(string(line), func(r rune) bool { return r == ',' || r == ';' }) {
		cols[strings.ToLower(strings.Trim(strings.TrimSpace(f), `"`))] = true
	}
	return cols["customer"] && cols["email"]
}

// parseCSV reads a CSV contacts file into customers, with an index that
// gives each customer the line of its first row and each contact the line
// of its row, so that validation names CSV lines. Rows of one customer must
// be adjacent; customer_name and plan are taken from the first row that
// gives them. Columns without a header name and empty rows are ignored. The separator is ',' or, as spreadsheets in Dutch locales
// write, ';'. A nil collector means nothing could be read.
func parseCSV(out *config.Problems, name string, data []byte) ([]config.Customer, *config.Reporter) {
	data = bytes.TrimPrefix(data, utf8BOM)
	problem := func(line int, path, format string, args ...any) {
		*out = append(*out, config.Problem{File: name, Line: line, Path: path, Reason: fmt.Sprintf(format, args...)})
	}
	r := csv.NewReader(bytes.NewReader(data))
	headerLine, _, _ := bytes.Cut(data, []byte("\n"))
	if bytes.Count(headerLine, []byte(";")) > bytes.Count(headerLine, []byte(",")) {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	r.Comment = '#'
	readErr := func(err error) {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			problem(pe.Line, "", "invalid CSV: %v", pe.Err)
			return
		}
		problem(0, "", "invalid CSV: %v", err)
	}
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, config.NewReporter(out, name)
	}
	if err != nil {
		readErr(err)
		return nil, nil
	}
	hl, _ := r.FieldPos(0)
	cols := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch _, dup := cols[h]; {
		case h == "":
			// Spreadsheets export trailing empty columns.
		case dup:
			problem(hl, "", "column %q appears twice", h)
		case !slices.Contains(config.ContactsCSVColumns, h):
			reason := fmt.Sprintf("unknown column %q", h)
			if s := config.Suggest(h, slices.Clone(config.ContactsCSVColumns)); s != "" {
				reason += fmt.Sprintf(" (did you mean %q?)", s)
			}
			problem(hl, "", "%s; columns are %s", reason, strings.Join(config.ContactsCSVColumns, ", "))
		default:
			cols[h] = i
		}
	}
	missing := false
	for _, req := range []string{"customer", "email"} {
		if _, ok := cols[req]; !ok {
			problem(hl, "", "missing column %q (the header must name at least customer and email)", req)
			missing = true
		}
	}
	if missing {
		return nil, nil
	}

	c := config.NewReporter(out, name)
	var customers []config.Customer
	byID := map[string]int{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr(err)
			return nil, nil
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			problem(line, "", "has %d fields, the header has %d", len(rec), len(header))
			continue
		}
		if strings.TrimSpace(strings.Join(rec, "")) == "" {
			continue // an empty spreadsheet row: ",,,,"
		}
		get := func(col string) string {
			if i, ok := cols[col]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		id := get("customer")
		ci, seen := byID[id]
		cp := fmt.Sprintf("customers[%d]", ci)
		switch {
		case !seen:
			ci = len(customers)
			byID[id] = ci
			cp = fmt.Sprintf("customers[%d]", ci)
			customers = append(customers, config.Customer{ID: id})
			c.SetLine(cp, line)
		case ci != len(customers)-1:
			problem(line, cp+".id", "rows of customer %s must be together; its rows start at line %d", id, c.Line(cp))
			continue
		}
		cu := &customers[ci]
		for _, f := range []struct {
			col string
			dst *string
		}{{"customer_name", &cu.Name}, {"plan", &cu.Plan}} {
			v := get(f.col)
			switch {
			case v == "":
			case *f.dst == "":
				*f.dst = v
			case *f.dst != v:
				problem(line, cp+"."+strings.TrimPrefix(f.col, "customer_"), "%s %q differs from %q given earlier for customer %s", f.col, v, *f.dst, id)
			}
		}
		p := fmt.Sprintf("%s.contacts[%d]", cp, len(cu.Contacts))
		c.SetLine(p, line)
		ct := config.Contact{Email: get("email"), Name: get("name"), Language: get("language"), MaxPriority: get("max_priority")}
		if v := get("main"); v != "" {
			b, err := parseCSVBool(v)
			if err != nil {
				problem(line, p+".main", "must be true or false (got %q)", v)
			}
			ct.Main = b
		}
		if v := get("receives_progress"); v != "" {
			b, err := parseCSVBool(v)
			if err != nil {
				problem(line, p+".receives_progress", "must be true or false (got %q)", v)
			} else {
				ct.ReceivesProgress = &b
			}
		}
		cu.Contacts = append(cu.Contacts, ct)
	}
	return customers, c
}

func parseCSVBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "y", "x":
		return true, nil
	case "no", "n":
		return false, nil
	}
	return strconv.ParseBool(s)
}
