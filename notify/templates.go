package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htemplate "html/template"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	ttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/maildesk/maildesk/config"
)

// Every mail has a template per kind, language and format, in a file named
// KIND.LANG.FORMAT.tmpl: ack.nl.txt.tmpl (text/template, the text part) and
// ack.nl.html.tmpl (html/template, the HTML alternative). The embedded
// defaults in templates/ cover every combination (tested); a templates
// directory overrides any of them with files of the same names.

//go:embed templates/*.tmpl
var embeddedTemplates embed.FS

// embeddedDir is where the defaults live inside embeddedTemplates; their
// errors (tests only) name them by this path.
const embeddedDir = "templates"

// Format is a body format: the text part or the HTML alternative.
type Format string

const (
	FormatText Format = "txt"
	FormatHTML Format = "html"
)

var formats = []Format{FormatText, FormatHTML}

// languages have a template for every kind and format (tested);
// fallbackLanguage is the last resort of pickLanguage.
var languages = []string{"en", "nl"}

const fallbackLanguage = "en"

// maxTemplateSize keeps a wrong file (a log, an image) in the templates
// directory from being read whole; real templates are a few kB.
const maxTemplateSize = 256 << 10

type templateKey struct {
	kind   Kind
	lang   string
	format Format
}

func (k templateKey) fileName() string {
	return string(k.kind) + "." + k.lang + "." + string(k.format) + ".tmpl"
}

// allTemplateKeys lists every template a complete set has, sorted by file name.
func allTemplateKeys() []templateKey {
	var keys []templateKey
	for _, k := range kinds {
		for _, l := range languages {
			for _, f := range formats {
				keys = append(keys, templateKey{k, l, f})
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].fileName() < keys[j].fileName() })
	return keys
}

// parseTemplateName is the inverse of fileName.
func parseTemplateName(name string) (templateKey, bool) {
	for _, k := range allTemplateKeys() {
		if k.fileName() == name {
			return k, true
		}
	}
	return templateKey{}, false
}

// Templates is a complete, checked set of mail templates: one per kind,
// language and format. It is immutable and safe for concurrent use; the
// parsed templates are never executed themselves, only clones of them, so
// that every execution can bind the date function to its language and the
// desk's time zone.
type Templates struct {
	set map[templateKey]*mailTemplate
}

type mailTemplate struct {
	file string // "templates/ack.nl.txt.tmpl" or the override's path
	text *ttemplate.Template
	html *htemplate.Template
}

// DefaultTemplates returns the embedded templates.
func DefaultTemplates() *Templates { return defaultTemplates }

// Parsing and checking at init means a broken embedded template panics in
// every test instead of surfacing on the first notification in production.
var defaultTemplates = func() *Templates {
	t := &Templates{set: map[templateKey]*mailTemplate{}}
	var ps TemplateProblems
	for _, k := range allTemplateKeys() {
		file := path.Join(embeddedDir, k.fileName())
		src, err := embeddedTemplates.ReadFile(file)
		if err != nil {
			ps = append(ps, TemplateProblem{File: file, Reason: "missing from the embedded templates"})
			continue
		}
		if mt, probs := parseTemplate(file, k, src); len(probs) > 0 {
			ps = append(ps, probs...)
		} else {
			t.set[k] = mt
		}
	}
	if len(ps) > 0 {
		panic("notify: embedded templates:\n" + ps.Error())
	}
	return t
}()

// LoadTemplates returns the embedded templates overlaid by the template
// files in dir; an empty dir means the defaults alone. Every file in dir
// must be named after a template (KIND.LANG.txt.tmpl or KIND.LANG.html.tmpl),
// parse, use only fields the template data has, and execute against sample
// notifications of its kind. Overriding one format of a kind and language
// requires overriding the other too, so that the text and HTML parts of a
// mail cannot say different things; an HTML file holding only white space
// makes that mail text-only. Names starting with "." (editor files,
// Kubernetes' ..data) and directories are ignored; symbolic links are
// followed.
//
// A non-nil error is a TemplateProblems listing every problem found, each
// naming the file (under dir) and, when known, the line.
func LoadTemplates(dir string) (*Templates, error) {
	if dir == "" {
		return DefaultTemplates(), nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		reason := err.Error()
		var pe *fs.PathError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			reason = "templates directory does not exist"
		case errors.As(err, &pe):
			reason = "cannot read templates directory: " + pe.Err.Error()
		}
		return nil, TemplateProblems{{File: dir, Reason: reason}}
	}

	t := &Templates{set: make(map[templateKey]*mailTemplate, len(defaultTemplates.set))}
	for k, v := range defaultTemplates.set {
		t.set[k] = v
	}
	var ps TemplateProblems
	overridden := map[templateKey]string{}
	for _, e := range entries { // sorted by name
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		file := filepath.Join(dir, name)
		info, err := os.Stat(file) // follows symbolic links
		if err != nil {
			ps = append(ps, TemplateProblem{File: file, Reason: "cannot read: " + pathErrReason(err)})
			continue
		}
		if !info.Mode().IsRegular() {
			continue
		}
		key, ok := parseTemplateName(name)
		if !ok {
			ps = append(ps, TemplateProblem{File: file, Reason: unknownNameReason(name)})
			continue
		}
		if info.Size() > maxTemplateSize {
			ps = append(ps, TemplateProblem{File: file, Reason: fmt.Sprintf("is %d bytes; a template may have at most %d", info.Size(), maxTemplateSize)})
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			ps = append(ps, TemplateProblem{File: file, Reason: "cannot read: " + pathErrReason(err)})
			continue
		}
		overridden[key] = file
		mt, probs := parseTemplate(file, key, src)
		if len(probs) > 0 {
			ps = append(ps, probs...)
			continue
		}
		t.set[key] = mt
	}
	for key, file := range overridden {
		other := key
		other.format = FormatHTML
		if key.format == FormatHTML {
			other.format = FormatText
		}
		if _, ok := overridden[other]; !ok {
			ps = append(ps, TemplateProblem{File: file, Reason: fmt.Sprintf(
				"%s must be overridden too, so that the text and HTML parts say the same "+
					"(an %s holding only white space sends that mail as text only)",
				other.fileName(), templateKey{key.kind, key.lang, FormatHTML}.fileName())})
		}
	}
	if len(ps) > 0 {
		ps.sort()
		return nil, ps
	}
	return t, nil
}

func pathErrReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func unknownNameReason(name string) string {
	var known []string
	for _, k := range allTemplateKeys() {
		known = append(known, k.fileName())
	}
	reason := "is not a template name"
	if s := closest(name, known); s != "" {
		reason += " (did you mean " + strconv.Quote(s) + "?)"
	}
	var ks []string
	for _, k := range kinds {
		ks = append(ks, string(k))
	}
	return reason + "; template files are KIND.LANG.txt.tmpl and KIND.LANG.html.tmpl with KIND one of " +
		strings.Join(ks, ", ") + " and LANG one of " + strings.Join(languages, ", ")
}

// parseTemplate parses one template file and checks it: valid UTF-8, known
// fields, and a successful execution against every sample of its kind.
func parseTemplate(file string, key templateKey, src []byte) (*mailTemplate, TemplateProblems) {
	if !utf8.Valid(src) {
		line := 1 + bytes.Count(src[:firstInvalidUTF8(src)], []byte("\n"))
		return nil, TemplateProblems{{File: file, Line: line, Reason: "is not valid UTF-8; save the file as UTF-8"}}
	}
	mt := &mailTemplate{file: file}
	var err error
	// The functions given at parse time only declare the names and
	// signatures; each execution binds its own (executeTemplate).
	funcs := templateFuncs(fallbackLanguage, time.UTC)
	if key.format == FormatHTML {
		mt.html, err = htemplate.New(file).Funcs(htemplate.FuncMap(funcs)).Parse(string(src))
	} else {
		mt.text, err = ttemplate.New(file).Funcs(funcs).Parse(string(src))
	}
	if err != nil {
		return nil, TemplateProblems{templateProblem(file, err)}
	}
	if ps := checkFields(file, mt.tree()); len(ps) > 0 {
		return nil, ps
	}
	for _, n := range sampleNotifications(key.kind) {
		n.Language = key.lang
		p, err := prepare(sampleDesk, n)
		if err != nil {
			// A bug in the samples, not in the file.
			panic(fmt.Sprintf("notify: sample %s notification: %v", key.kind, err))
		}
		if _, err := mt.execute(p.data, key.lang, time.UTC); err != nil {
			return nil, TemplateProblems{templateProblem(file, err)}
		}
	}
	return mt, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// templateFuncs are the functions templates may call, for one language and
// time zone.
func templateFuncs(lang string, loc *time.Location) ttemplate.FuncMap {
	return ttemplate.FuncMap{
		// {{date .Received}}: "zaterdag 21 november 2026 om 20:25".
		"date": func(t time.Time) string { return formatDate(t, lang, loc) },
		// {{day .AsOf}}: "21 november 2026".
		"day": func(t time.Time) string { return formatDay(t, lang, loc) },
		// {{status .New}}: "in behandeling" for in_progress.
		"status": func(s string) string { return statusText(lang, s) },
	}
}

// execute runs a clone of the template with the date function bound to
// lang and loc. Cloning per execution is cheap next to sending a mail, and
// it keeps the parsed template unexecuted, which html/template requires of
// a template that is cloned.
func (mt *mailTemplate) execute(data templateData, lang string, loc *time.Location) (string, error) {
	var b bytes.Buffer
	funcs := templateFuncs(lang, loc)
	if mt.html != nil {
		c, err := mt.html.Clone()
		if err != nil {
			return "", err
		}
		if err := c.Funcs(htemplate.FuncMap(funcs)).Execute(&b, data); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	c, err := mt.text.Clone()
	if err != nil {
		return "", err
	}
	if err := c.Funcs(funcs).Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// render fills the text and HTML templates of kind in lang. A whitespace-
// only HTML result means the mail has no HTML part.
func (t *Templates) render(kind Kind, lang string, loc *time.Location, data templateData) (text, html string, err error) {
	for _, f := range formats {
		mt := t.set[templateKey{kind, lang, f}]
		if mt == nil {
			return "", "", fmt.Errorf("%w: no %s template for %s in %s", ErrInvalidNotification, f, kind, lang)
		}
		out, err := mt.execute(data, lang, loc)
		if err != nil {
			return "", "", fmt.Errorf("rendering %s: %w", mt.file, err)
		}
		if f == FormatHTML {
			if strings.TrimSpace(out) == "" {
				out = ""
			}
			html = out
		} else {
			text = out
		}
	}
	return text, html, nil
}

// File reports which file the template for kind, lang and format came from
// (the embedded "templates/..." or an override's path), "" if none.
func (t *Templates) File(kind Kind, lang string, format Format) string {
	if mt := t.set[templateKey{kind, lang, format}]; mt != nil {
		return mt.file
	}
	return ""
}

// TemplateProblem is one thing wrong with a template file, located like a
// compiler diagnostic.
type TemplateProblem struct {
	File   string // path of the template file (or of the directory)
	Line   int    // 1-based; 0 when unknown
	Reason string
}

func (p TemplateProblem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Reason)
	}
	return p.File + ": " + p.Reason
}

// TemplateProblems is the error of LoadTemplates: every problem found, one
// per line.
type TemplateProblems []TemplateProblem

func (ps TemplateProblems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (ps TemplateProblems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
}

// templateProblem locates an error of text/template or html/template. Their
// messages start "template: NAME:LINE:" or "html/template:NAME:LINE:COL:",
// and the templates are named after their files.
func templateProblem(file string, err error) TemplateProblem {
	msg := err.Error()
	re := regexp.MustCompile(`(?s)^(?:html/)?template: ?` + regexp.QuoteMeta(file) + `(?::(\d+)(?::\d+)?)?: (.*)$`)
	m := re.FindStringSubmatch(msg)
	if m == nil {
		msg = strings.TrimPrefix(strings.TrimPrefix(msg, "template: "), "html/template: ")
		return TemplateProblem{File: file, Reason: msg}
	}
	line, _ := strconv.Atoi(m[1])
	// `executing "/etc/…/ack.nl.txt.tmpl" at <.X>: …` repeats the file name.
	reason := strings.Replace(m[2], "executing "+strconv.Quote(file)+" ", "", 1)
	if strings.HasPrefix(reason, "ends in a non-text context") {
		// The rest is html/template's internal state.
		reason = "ends inside a tag, attribute, comment or URL: a quote, tag or comment is not closed"
	}
	return TemplateProblem{File: file, Line: line, Reason: reason}
}

// closest returns the candidate nearest to a misspelt name, if any is near.
func closest(name string, candidates []string) string {
	best, bestDist := "", 5
	for _, c := range candidates {
		if d := config.EditDistance(strings.ToLower(name), c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// sampleDesk renders the samples templates are checked against at load.
var sampleDesk = Desk{ID: "sample", Name: "Servicedesk", Address: "servicedesk@desk.example", DefaultLanguage: fallbackLanguage,
	TicketURL: func(n string) string { return "https://desk.example/tickets/" + n }}

// sampleNotifications are what the templates of kind are executed against
// at load: one with only what the kind requires, one with every field set,
// and the kind's own variants of the full one, so that the usual branches
// of a template run once before the first real mail does.
func sampleNotifications(kind Kind) []Notification {
	spec := kindSpecs[kind]
	minimal := Notification{ID: "sample/" + string(kind), Kind: kind, To: "jan@customer.example"}
	if spec.needsTicket {
		minimal.Ticket = "SD-1"
	}
	if spec.needsText {
		minimal.Text = "Ok."
	}
	if spec.needsChanges {
		minimal.Changes = []Change{{Field: ChangeStatus, New: "in_progress"}}
	}
	if spec.needsLink {
		minimal.StatusURL = "https://desk.example/s/in/sample"
	}
	full := Notification{
		ID: "sample/" + string(kind), Kind: kind,
		To: "jan@customer.example", ToName: "Jan Jansen", Ticket: "SD-1",
		Subject:   "Printer on the second floor is broken",
		InReplyTo: "abc@customer.example", References: []string{"root@customer.example"},
		Customer: "Customer BV", Size: 31_500_000, Limit: 25_000_000,
		Type: "incident", Priority: "P2", RequestedPriority: "P1", PriorityReason: "rights",
		MainContact: "piet@customer.example", MainContactName: "Piet Pietersen",
		Received: time.Date(2026, 11, 21, 19, 25, 0, 0, time.UTC),
		Deadline: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), Target: "4h",
		ReportedBy: "Jan Jansen <jan@customer.example>",
		RepliedBy:  "Piet Pietersen <piet@customer.example>",
		AsOf:       time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC),
		Items: []DigestItem{
			{Ticket: "SD-7", Customer: "Customer BV", Subject: "VPN is slow", Priority: "P3", Deadline: time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)},
			{Ticket: "SD-4", Customer: "Customer BV", Subject: "Printer on the second floor is broken", Priority: "P1", Deadline: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), Breached: true},
			{Ticket: "SD-6", Customer: "Another Company", Subject: "New laptop", Priority: "P4", Deadline: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)},
			{Ticket: "SD-5", Customer: "Another Company", Subject: "Mail bounces", Priority: "P2", Deadline: time.Date(2026, 11, 23, 5, 30, 0, 0, time.UTC), Breached: true},
		},
		Server: "IMAP outlook.office365.com:993 as servicedesk@desk.example",
		Reason: "oauth2 client_credentials token request to https://login.microsoftonline.com/x/oauth2/v2.0/token: invalid_client: AADSTS7000215: Invalid client secret provided.",
		Part:   "imap",
		Agent:  "Piet Agent",
		Text:   "Dear Jan,\n\nThe printer has a new fuser now.\nPlease try again.\n\nKind regards,",
		Changes: []Change{
			{Field: ChangeStatus, Old: "acknowledged", New: "in_progress"},
			{Field: ChangePriority, Old: "P3", New: "P1", Reason: "the whole floor cannot print"},
			{Field: ChangeAssignee, New: "Piet Agent"},
		},
		StatusURL: "https://desk.example/s/sample-capability-token",
	}
	out := []Notification{minimal, full}
	for _, v := range spec.samples {
		n := full
		n.References = slices.Clone(full.References)
		n.Items = slices.Clone(full.Items)
		n.Changes = slices.Clone(full.Changes)
		v(&n)
		out = append(out, n)
	}
	return out
}
