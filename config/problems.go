package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with the configuration, located precisely enough
// that an operator can go straight to it.
type Problem struct {
	File   string // config or contacts file name as given; empty for Parse and environment variables
	Line   int    // 1-based YAML line of the field, 0 when unknown
	Path   string // "imap.security", "customers[0].contacts[1].email"
	Reason string // "must be one of none, starttls, tls (got \"ssl\")"
}

// String formats p like a compiler diagnostic, which editors and terminals
// already know how to jump to: "config.yaml:12: imap.security: must be ...".
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// Problems is every Problem found in one load. It is the error Load and Parse
// return for anything an operator has to fix in the configuration, so that a
// single run shows all of them.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Reporter gathers the problems of one file, each at the line of its field
// path: the position machinery the packages that check parts of the
// configuration (authz the contacts file, sla the SLA grammar) share, so
// that check-config names every problem with file, line and field.
type Reporter struct {
	out    *Problems
	file   string
	ix     *index
	root   reflect.Type      // the type the file decodes into, for suggestions
	env    map[string]string // path -> environment variable that set it
	broken []string          // paths whose value the decoder could not store
	seen   map[string]bool
}

func newReporter(out *Problems, file string, ix *index, root reflect.Type) *Reporter {
	return &Reporter{out: out, file: file, ix: ix, root: root, env: map[string]string{}, seen: map[string]bool{}}
}

// NewReporter reports problems of file (empty: none, for changes that do
// not come from a file) into out. It knows no lines until SetLine gives
// them, as a reader of a format other than YAML (CSV) does.
func NewReporter(out *Problems, file string) *Reporter {
	return newReporter(out, file, newIndex(nil), nil)
}

// SetLine records that path is at line, for Add and Line.
func (c *Reporter) SetLine(path string, line int) { c.ix.lines[path] = line }

// Line is the line of path, or of its nearest ancestor that is in the file
// (0: unknown).
func (c *Reporter) Line(path string) int { return c.ix.line(path) }

// on is c reporting into out instead, sharing what c knows: lines,
// environment overrides, values the decoder rejected and paths already
// reported.
func (c *Reporter) on(out *Problems) *Reporter {
	r := *c
	r.out = out
	return &r
}

// Add records a problem at path. Only the first problem at a path is kept, and
// none below a value the decoder already rejected: a field that failed to
// decode is left at zero, and "is required" on top of "must be a duration"
// would be noise.
func (c *Reporter) Add(path, reason string) {
	if c.seen[path] {
		return
	}
	for _, b := range c.broken {
		if b == "" || path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return
		}
	}
	c.seen[path] = true
	if name, ok := c.env[path]; ok {
		// The file's line would point at a value that is not the one in use.
		*c.out = append(*c.out, Problem{Path: path, Reason: reason + " (set by " + name + ")"})
		return
	}
	*c.out = append(*c.out, Problem{File: c.file, Line: c.ix.line(path), Path: path, Reason: reason})
}

// Addf is Add with a formatted reason.
func (c *Reporter) Addf(path, format string, args ...any) {
	c.Add(path, fmt.Sprintf(format, args...))
}

// Set reports whether path was given in the file (with a non-null value) or
// by the environment, which decides whether a default applies.
func (c *Reporter) Set(path string) bool {
	_, env := c.env[path]
	return env || c.ix.set[path]
}

var (
	lineRE       = regexp.MustCompile(`^(?:yaml: )?line (\d+)(?: column (\d+))?: (.*)$`)
	notFoundRE   = regexp.MustCompile(`^field (.*) not found in type \S+$`)
	alreadySetRE = regexp.MustCompile(`^field (.*) already set in type \S+$`)
	dupKeyRE     = regexp.MustCompile(`^mapping key (".*") already defined at line (\d+)$`)
	unmarshalRE  = regexp.MustCompile("^cannot unmarshal (\\S+)(?: `(.*)`)? into (.+)$")
)

// decodeError turns an error from the yaml package into problems. It reports
// whether decoding got far enough for validation to be worth running: type
// errors leave the rest of the struct filled in, anything else does not.
func (c *Reporter) decodeError(err error) (usable bool) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if m := lineRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[3]
		}
		*c.out = append(*c.out, Problem{File: c.file, Line: line, Reason: "invalid YAML: " + msg})
		return false
	}
	for _, msg := range te.Errors {
		c.typeError(msg)
	}
	return true
}

func (c *Reporter) typeError(msg string) {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		*c.out = append(*c.out, Problem{File: c.file, Reason: msg})
		c.broken = append(c.broken, "")
		return
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	msg = m[3]
	report := func(path, reason string) {
		if path == "" && line > 0 {
			*c.out = append(*c.out, Problem{File: c.file, Line: line, Reason: reason})
			return
		}
		p := Problem{File: c.file, Line: line, Path: path, Reason: reason}
		if c.seen[path] {
			return
		}
		c.seen[path] = true
		*c.out = append(*c.out, p)
	}
	switch {
	case notFoundRE.MatchString(msg):
		key := notFoundRE.FindStringSubmatch(msg)[1]
		path := c.ix.keyAt(line, key)
		reason := "unknown field " + strconv.Quote(key)
		if s := Suggest(key, fieldNames(c.root, parent(path))); s != "" {
			reason += " (did you mean " + strconv.Quote(s) + "?)"
		}
		report(path, reason)
	case alreadySetRE.MatchString(msg):
		key := alreadySetRE.FindStringSubmatch(msg)[1]
		report(c.ix.keyAt(line, key), "is set more than once")
	case dupKeyRE.MatchString(msg):
		sm := dupKeyRE.FindStringSubmatch(msg)
		key, err := strconv.Unquote(sm[1])
		if err != nil {
			key = sm[1]
		}
		path := c.ix.keyAt(line, key)
		report(path, "is already defined at line "+sm[2])
		// The decoder skips the whole mapping that holds a duplicate key.
		c.broken = append(c.broken, parent(path))
	case unmarshalRE.MatchString(msg):
		sm := unmarshalRE.FindStringSubmatch(msg)
		tag, value, into := sm[1], sm[2], sm[3]
		path := c.ix.valueAt(line, 0, tag, value)
		got := strconv.Quote(value)
		switch tag {
		case "!!seq":
			got = "a list"
		case "!!map":
			got = "a mapping"
		}
		report(path, "must be "+describeType(into)+" (got "+got+")")
		if path != "" || c.root != nil && strings.HasSuffix(into, "."+c.root.Name()) {
			c.broken = append(c.broken, path)
		}
	default:
		// Errors from our own unmarshalers (Duration, ByteSize).
		path := c.ix.valueAt(line, col, "", "")
		report(path, msg)
		if path != "" {
			c.broken = append(c.broken, path)
		}
	}
}

// describeType names a Go type from a yaml error message the way the config
// file's author thinks of it.
func describeType(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.Contains(t, "."):
		return "a mapping"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a whole number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a single value"
	}
	return "a " + t
}

// index maps the field paths of one YAML document to where they are, so that
// problems found after decoding, when line numbers are gone, can still name a
// line.
type index struct {
	root    int
	lines   map[string]int  // path -> line of its key (or list item)
	set     map[string]bool // path has a non-null value
	entries []entry
	budget  int
}

type entry struct {
	path    string
	key     string
	keyLine int
	val     *yaml.Node // with aliases resolved
}

const (
	// The schema is at most seven levels deep; anything deeper cannot be a
	// field we know, so there is no point in indexing it.
	maxIndexDepth = 16
	// Bounds the work on alias-heavy documents ("billion laughs"), which the
	// decoder rejects anyway.
	maxIndexEntries = 100000
)

func newIndex(doc *yaml.Node) *index {
	ix := &index{lines: map[string]int{}, set: map[string]bool{}, budget: maxIndexEntries}
	if doc != nil && doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root := doc.Content[0]
		ix.root = root.Line
		// The root is an entry too, so that "cannot unmarshal !!seq into
		// config.Config" finds it.
		ix.entries = append(ix.entries, entry{keyLine: root.Line, val: resolve(root)})
		ix.walk(root, "", 0)
	}
	return ix
}

func resolve(n *yaml.Node) *yaml.Node {
	// Anchors cannot be put on aliases, so one step is enough; the loop bound
	// only guards against a malformed tree.
	for i := 0; i < 8 && n != nil && n.Kind == yaml.AliasNode; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func (ix *index) walk(n *yaml.Node, path string, depth int) {
	n = resolve(n)
	if n == nil || depth > maxIndexDepth || ix.budget <= 0 {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
				merges = append(merges, v)
				continue
			}
			p := join(path, k.Value)
			ix.record(p, k.Value, k.Line, v)
			ix.walk(v, p, depth+1)
		}
		// Merged keys come after explicit ones because explicit keys win.
		for _, m := range merges {
			m = resolve(m)
			if m == nil {
				continue
			}
			if m.Kind == yaml.SequenceNode {
				for _, item := range m.Content {
					ix.walk(item, path, depth+1)
				}
			} else {
				ix.walk(m, path, depth+1)
			}
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			ix.record(p, "", item.Line, item)
			ix.walk(item, p, depth+1)
		}
	}
}

func (ix *index) record(path, key string, line int, v *yaml.Node) {
	ix.budget--
	v = resolve(v)
	if _, ok := ix.lines[path]; !ok {
		ix.lines[path] = line
	}
	if !isNull(v) {
		ix.set[path] = true
	}
	ix.entries = append(ix.entries, entry{path: path, key: key, keyLine: line, val: v})
}

// line is the line of path, or of its nearest ancestor that is in the file:
// a missing field is reported where it should have been added.
func (ix *index) line(path string) int {
	for {
		if l, ok := ix.lines[path]; ok {
			return l
		}
		if path == "" {
			return ix.root
		}
		path = parent(path)
	}
}

func (ix *index) keyAt(line int, key string) string {
	for _, e := range ix.entries {
		if e.keyLine == line && e.key == key {
			return e.path
		}
	}
	return ""
}

// valueAt finds the field whose value starts at line (and column, when known).
// yaml's own messages give only the line and a value shortened to 7
// characters, which is enough to tell apart the fields of a flow mapping.
func (ix *index) valueAt(line, col int, tag, value string) string {
	var candidates []entry
	for _, e := range ix.entries {
		if e.val != nil && e.val.Line == line && (col == 0 || e.val.Column == col) {
			candidates = append(candidates, e)
		}
	}
	if len(candidates) == 0 {
		return ""
	}
	want := yaml.ScalarNode
	switch tag {
	case "!!seq":
		want = yaml.SequenceNode
	case "!!map":
		want = yaml.MappingNode
	}
	var sameKind []entry
	for _, e := range candidates {
		if e.val.Kind != want {
			continue
		}
		sameKind = append(sameKind, e)
		if want == yaml.ScalarNode && value != "" &&
			(e.val.Value == value || strings.HasSuffix(value, "...") && strings.HasPrefix(e.val.Value, strings.TrimSuffix(value, "..."))) {
			return e.path
		}
	}
	if len(sameKind) > 0 {
		return sameKind[0].path
	}
	return candidates[0].path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// parent of "a.b[2].c" is "a.b[2]", of "a.b[2]" is "a.b", of "a" is "".
func parent(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// fieldNames lists the yaml keys allowed at path in a document decoding into
// root, or nil when path does not lead to a struct.
func fieldNames(root reflect.Type, path string) []string {
	t := root
	if path != "" {
		for _, seg := range strings.Split(path, ".") {
			name := seg
			if i := strings.IndexByte(seg, '['); i >= 0 {
				name = seg[:i]
			}
			if t != nil && t.Kind() == reflect.Map {
				t = t.Elem() // the segment is a key, as in plans.<name>
				continue
			}
			if t == nil || t.Kind() != reflect.Struct {
				return nil
			}
			f, ok := fieldByTag(t, name)
			if !ok {
				return nil
			}
			t = f.Type
			for range strings.Count(seg, "[") {
				if t.Kind() != reflect.Slice {
					return nil
				}
				t = t.Elem()
			}
		}
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		if n := tagName(t.Field(i)); n != "" {
			names = append(names, n)
		}
	}
	return names
}

func tagName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); tagName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// Suggest returns the candidate closest to a misspelt key, if any is close.
// It sorts candidates.
func Suggest(key string, candidates []string) string {
	best, bestDist := "", 3
	if len(key) <= 4 {
		bestDist = 2
	}
	sort.Strings(candidates)
	for _, c := range candidates {
		if d := EditDistance(key, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// EditDistance is the optimal string alignment distance: Levenshtein plus
// transposition of neighbours, the commonest typo ("pasword", "mian"). It
// is what every "did you mean" of maildesk's configuration (keys here,
// template file names in notify) is measured with.
func EditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30 // not a typo of any of our keys, and keeps this cheap
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
