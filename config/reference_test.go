package config

// The configuration reference (docs/configuration.md) is checked against the
// schema: every key a file may hold is documented, nothing documented is
// gone from the schema, every default of the defaults table is next to its
// key, and the list of environment variables is exactly the one Load reads.
//
// Key paths in the reference are the dotted YAML paths Problems use, with
// two normalisations: a list of mappings is written "[]" (desk.agents[].email,
// customers[].contacts[].main) and a mapping keyed by a name of your choice
// writes that name as a placeholder in angle brackets, the placeholder
// naming what the key is (plans.<plan>.targets.<priority>.first_response,
// calendars.<calendar>.hours). A list of scalars or a mapping to scalars or
// lists is one key (desk.agent_domains, priority.words).

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const referenceDoc = "../docs/configuration.md"

// Table headers that mark the reference tables: one for the config file,
// one for the contacts file.
const (
	configTableHeader   = "| key | default | meaning |"
	contactsTableHeader = "| contacts file key | default | meaning |"
)

// mapPlaceholders names the placeholder of each mapping keyed by the
// operator's choice, by the mapping's YAML key. A new such mapping must be
// added here (and documented).
var mapPlaceholders = map[string]string{
	"plans":      "plan",
	"calendars":  "calendar",
	"targets":    "priority",
	"languages":  "language",
	"types":      "type",
	"activities": "activity",
	"channels":   "channel",
}

type refKind int

const (
	refLeaf    refKind = iota // a value: scalar, list of scalars, map of scalars or lists
	refSection                // a mapping with fixed keys (desk, imap, plans.<plan>)
	refList                   // a list of mappings (desk.agents)
	refMap                    // a mapping keyed by a name (plans)
)

type refKey struct {
	Path string
	Kind refKind
	// Scalar: a leaf holding one value (not a list or a mapping), which the
	// environment can override unless it is inside a list or a mapping.
	Scalar bool
	// InCollection: below a list or a mapping keyed by name.
	InCollection bool
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// schemaKeys walks the yaml-tagged fields of t as the YAML decoder sees them.
func schemaKeys(t *testing.T, root reflect.Type) []refKey {
	t.Helper()
	var keys []refKey
	var walk func(ty reflect.Type, prefix string, inColl bool)
	walk = func(ty reflect.Type, prefix string, inColl bool) {
		for i := range ty.NumField() {
			f := ty.Field(i)
			name := tagName(f)
			if name == "" {
				continue
			}
			path := join(prefix, name)
			ft := f.Type
			elem := ft
			if ft.Kind() == reflect.Pointer {
				elem = ft.Elem()
			}
			switch {
			case reflect.PointerTo(elem).Implements(unmarshalerType) || isScalar(elem):
				keys = append(keys, refKey{Path: path, Kind: refLeaf, Scalar: true, InCollection: inColl})
			case elem.Kind() == reflect.Struct:
				keys = append(keys, refKey{Path: path, Kind: refSection, InCollection: inColl})
				walk(elem, path, inColl)
			case elem.Kind() == reflect.Slice && elem.Elem().Kind() == reflect.Struct &&
				!reflect.PointerTo(elem.Elem()).Implements(unmarshalerType):
				keys = append(keys, refKey{Path: path, Kind: refList, InCollection: inColl})
				walk(elem.Elem(), path+"[]", true)
			case elem.Kind() == reflect.Map && elem.Elem().Kind() == reflect.Struct &&
				!reflect.PointerTo(elem.Elem()).Implements(unmarshalerType):
				ph, ok := mapPlaceholders[name]
				if !ok {
					t.Fatalf("%s is a mapping of names to sections: add its placeholder to mapPlaceholders", path)
				}
				keys = append(keys, refKey{Path: path, Kind: refMap, InCollection: inColl})
				sub := path + ".<" + ph + ">"
				keys = append(keys, refKey{Path: sub, Kind: refSection, InCollection: true})
				walk(elem.Elem(), sub, true)
			case elem.Kind() == reflect.Slice || elem.Kind() == reflect.Map:
				keys = append(keys, refKey{Path: path, Kind: refLeaf, InCollection: inColl})
			default:
				t.Fatalf("%s: the reference test does not know how to document a %s", path, ft)
			}
		}
	}
	walk(root, "", false)
	return keys
}

type refRow struct {
	Key, Default, Meaning string
	Line                  int
}

// cellSplitRE splits a Markdown table row at pipes that are not escaped.
var cellSplitRE = regexp.MustCompile(`(^|[^\\])\|`)

func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	// Mark unescaped pipes, then split on the mark.
	marked := cellSplitRE.ReplaceAllString(line, "$1\x00")
	cells := strings.Split(marked, "\x00")
	if len(cells) < 2 {
		return nil
	}
	cells = cells[1 : len(cells)-1] // outside the leading and trailing pipe
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

var backtickedKeyRE = regexp.MustCompile("^`([a-z0-9_.<>\\[\\]]+)`$")

// referenceTables reads the rows of the tables under header in doc.
func referenceTables(t *testing.T, doc, header string) map[string]refRow {
	t.Helper()
	rows := map[string]refRow{}
	lines := strings.Split(doc, "\n")
	tables := 0
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != header {
			continue
		}
		tables++
		i++ // the |---|---|---| line
		for i++; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
			cells := splitRow(lines[i])
			if len(cells) != 3 {
				t.Errorf("configuration.md:%d: want 3 cells (key, default, meaning), got %d: %s", i+1, len(cells), lines[i])
				continue
			}
			m := backtickedKeyRE.FindStringSubmatch(cells[0])
			if m == nil {
				t.Errorf("configuration.md:%d: the key cell must be one key in backticks, got %s", i+1, cells[0])
				continue
			}
			if prev, dup := rows[m[1]]; dup {
				t.Errorf("configuration.md:%d: %s is documented twice (also line %d)", i+1, m[1], prev.Line)
			}
			if cells[2] == "" {
				t.Errorf("configuration.md:%d: %s has no meaning", i+1, m[1])
			}
			rows[m[1]] = refRow{Key: m[1], Default: cells[1], Meaning: cells[2], Line: i + 1}
		}
	}
	if tables == 0 {
		t.Fatalf("configuration.md has no table with the header %q", header)
	}
	return rows
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// checkRows compares the documented keys with the schema's: every leaf and
// every list or mapping is documented (sections with fixed keys may be, as
// headings usually do it), and every documented key exists.
func checkRows(t *testing.T, what string, keys []refKey, rows map[string]refRow) {
	t.Helper()
	known := map[string]bool{}
	for _, k := range keys {
		known[k.Path] = true
		if _, ok := rows[k.Path]; !ok && k.Kind != refSection {
			t.Errorf("%s key %s is not documented in docs/configuration.md", what, k.Path)
		}
	}
	paths := make([]string, 0, len(rows))
	for p := range rows {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if !known[p] {
			t.Errorf("configuration.md:%d: %s is documented but is no %s key", rows[p].Line, p, what)
		}
	}
}

func TestReferenceDocumentsEveryKey(t *testing.T) {
	doc := readDoc(t, referenceDoc)

	keys := schemaKeys(t, reflect.TypeFor[Config]())
	rows := referenceTables(t, doc, configTableHeader)
	checkRows(t, "config", keys, rows)

	contactKeys := schemaKeys(t, reflect.TypeFor[ContactsFile]())
	contactRows := referenceTables(t, doc, contactsTableHeader)
	checkRows(t, "contacts file", contactKeys, contactRows)

	// The CSV form of the contacts file: its header line, as authz.ParseContacts
	// knows the columns.
	if header := strings.Join(ContactsCSVColumns, ","); !strings.Contains(doc, "`"+header+"`") {
		t.Errorf("configuration.md does not give the CSV columns as `%s`", header)
	}
}

func TestReferenceDefaults(t *testing.T) {
	doc := readDoc(t, referenceDoc)
	rows := referenceTables(t, doc, configTableHeader)
	want := func(path, value string) {
		t.Helper()
		r, ok := rows[path]
		switch {
		case !ok:
			t.Errorf("%s (default %s) is not documented", path, value)
		case !strings.Contains(r.Default, value):
			t.Errorf("configuration.md:%d: %s: the default column must say %s, it says %q", r.Line, path, value, r.Default)
		}
	}
	for _, d := range defaults {
		want(d.path, "`"+d.value+"`")
	}
	want("plans", "`"+DefaultPlan+"`")
	for _, limits := range []struct {
		path string
		rs   []RateLimit
	}{{"outbox.recipient_limits", defaultRecipientLimits}, {"outbox.desk_limits", defaultDeskLimits}} {
		for _, r := range limits.rs {
			want(limits.path, fmt.Sprintf("{max: %d, per: %s}", r.Max, FormatDuration(r.Per.D())))
		}
	}
	for p, words := range defaultPriorityWords {
		want("priority.words", p+":")
		for _, w := range words {
			want("priority.words", w)
		}
	}
	for _, w := range defaultFeatureWords {
		want("priority.feature_words", w)
	}
}

// envLineRE is a line of the environment variable list: variable, then key.
var envLineRE = regexp.MustCompile(`^(MAILDESK_[A-Z0-9_]+)\s+([a-z0-9_.]+)$`)

func TestReferenceEnvironment(t *testing.T) {
	doc := readDoc(t, referenceDoc)
	keys := schemaKeys(t, reflect.TypeFor[Config]())

	// What Load reads from the environment: the leaves applyEnv walks.
	leaves := map[string]bool{}
	forEachLeaf(reflect.ValueOf(&Config{}).Elem(), "", func(path string, _ reflect.Value) { leaves[path] = true })

	// Every scalar outside lists and mappings is overridable, as the
	// reference says; lists, mappings and what is inside them are not.
	byName := map[string]string{}
	for _, k := range keys {
		overridable := k.Kind == refLeaf && k.Scalar && !k.InCollection
		if overridable != leaves[k.Path] {
			t.Errorf("%s: overridable by the environment is %v, but Load reads it from the environment: %v", k.Path, overridable, leaves[k.Path])
		}
		if !leaves[k.Path] {
			continue
		}
		name := envName(k.Path)
		if other, dup := byName[name]; dup {
			t.Errorf("%s and %s both map to %s", other, k.Path, name)
		}
		byName[name] = k.Path
		// The rule the reference states: MAILDESK_, then the key's path
		// with dots as underscores, upper-case.
		if rule := "MAILDESK_" + strings.ToUpper(strings.ReplaceAll(k.Path, ".", "_")); name != rule {
			t.Errorf("%s: envName gives %s, the documented rule %s", k.Path, name, rule)
		}
	}

	// The reference lists every variable with its key, and nothing else.
	listed := map[string]string{}
	for i, line := range strings.Split(doc, "\n") {
		m := envLineRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		if byName[m[1]] != m[2] {
			t.Errorf("configuration.md:%d: %s is listed for %s; Load reads it for %q", i+1, m[1], m[2], byName[m[1]])
		}
		listed[m[1]] = m[2]
	}
	for name, path := range byName {
		if _, ok := listed[name]; !ok {
			t.Errorf("configuration.md does not list %s (%s) among the environment variables", name, path)
		}
	}

	// Any variable the documentation mentions is one Load reads.
	mentionRE := regexp.MustCompile(`\bMAILDESK_[A-Z0-9_]*[A-Z0-9]\b`)
	files := []string{"../README.md"}
	docs, _ := filepath.Glob("../docs/*.md")
	examples, _ := filepath.Glob("../deploy/examples/*.yaml")
	for _, f := range append(docs, examples...) {
		if filepath.Base(f) != "performance.md" { // benchmark knobs, not configuration
			files = append(files, f)
		}
	}
	for _, f := range files {
		for i, line := range strings.Split(readDoc(t, f), "\n") {
			for _, name := range mentionRE.FindAllString(line, -1) {
				if _, ok := byName[name]; !ok {
					t.Errorf("%s:%d: %s is not an environment variable maildesk reads", strings.TrimPrefix(f, "../"), i+1, name)
				}
			}
		}
	}
}

var (
	mdLinkRE    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeadingRE = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	slugDropRE  = regexp.MustCompile(`[^\p{L}\p{N}\s_-]`)
)

// anchors are the heading anchors GitHub makes for a Markdown file.
func anchors(doc string) map[string]bool {
	out := map[string]bool{}
	inCode := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
			continue
		}
		m := mdHeadingRE.FindStringSubmatch(line)
		if inCode || m == nil {
			continue
		}
		slug := strings.ToLower(slugDropRE.ReplaceAllString(m[1], ""))
		slug = strings.ReplaceAll(slug, " ", "-")
		a := slug
		for n := 1; out[a]; n++ {
			a = fmt.Sprintf("%s-%d", slug, n)
		}
		out[a] = true
	}
	return out
}

// TestDocLinks: the links between README.md and docs/ lead somewhere, to a
// file that exists and, with a #fragment, to a heading in it.
func TestDocLinks(t *testing.T) {
	files := []string{"../README.md"}
	docs, _ := filepath.Glob("../docs/*.md")
	files = append(files, docs...)
	for _, f := range files {
		doc := readDoc(t, f)
		inCode := false
		for i, line := range strings.Split(doc, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inCode = !inCode
				continue
			}
			if inCode {
				continue
			}
			for _, m := range mdLinkRE.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				file, frag, _ := strings.Cut(target, "#")
				where := fmt.Sprintf("%s:%d", strings.TrimPrefix(f, "../"), i+1)
				path := f
				if file != "" {
					path = filepath.Join(filepath.Dir(f), file)
					if _, err := os.Stat(path); err != nil {
						t.Errorf("%s: link to %s: %v", where, target, err)
						continue
					}
				}
				if frag == "" {
					continue
				}
				if !strings.HasSuffix(path, ".md") {
					t.Errorf("%s: link %s has a fragment into a file that is not Markdown", where, target)
					continue
				}
				if !anchors(readDoc(t, path))[frag] {
					t.Errorf("%s: link %s: %s has no heading with anchor #%s", where, target, strings.TrimPrefix(path, "../"), frag)
				}
			}
		}
	}
}
