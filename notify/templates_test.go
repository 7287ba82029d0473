package notify

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// fullNote is a notification of kind k with every field a template may show.
func fullNote(k Kind, lang string) Notification {
	ns := sampleNotifications(k)
	n := ns[1]
	n.ID = "SD-1/" + string(k)
	n.Language = lang
	return n
}

func TestRenderEveryKindAndLanguage(t *testing.T) {
	greeting := map[string]string{"nl": "Beste Jan Jansen,", "en": "Dear Jan Jansen,"}
	automatic := map[string]string{"nl": "Dit is een automatisch verzonden bericht.", "en": "This is an automatically generated message."}
	for _, k := range kinds {
		for _, lang := range languages {
			t.Run(string(k)+"/"+lang, func(t *testing.T) {
				d := testDesk
				d.DefaultLanguage = "xx" // the notification's language must decide
				r, err := Render(d, fullNote(k, lang))
				if err != nil {
					t.Fatal(err)
				}
				wants := []string{greeting[lang], automatic[lang], "Acme IT Servicedesk"}
				if !k.Automatic() {
					// An agent's reply is the agent's text, signed; the
					// desk adds no greeting and does not call it automatic.
					wants = []string{"The printer has a new fuser now.", "Piet Agent", "Acme IT Servicedesk"}
				}
				for name, body := range map[string]string{"text": r.Text, "html": r.HTML} {
					for _, want := range wants {
						if !strings.Contains(body, want) {
							t.Errorf("%s lacks %q:\n%s", name, want, body)
						}
					}
					if !k.Automatic() && strings.Contains(body, automatic[lang]) {
						t.Errorf("%s of a person's reply says it is automatic:\n%s", name, body)
					}
					for _, bad := range []string{"<no value>", "ZgotmplZ", "%!"} {
						if strings.Contains(body, bad) {
							t.Errorf("%s has %q:\n%s", name, bad, body)
						}
					}
				}
				if r.Subject == "" || strings.ContainsAny(r.Subject, "\r\n") {
					t.Errorf("subject %q", r.Subject)
				}
				checkHTML(t, r.HTML, lang)
			})
		}
	}
}

// checkHTML asserts the structure every HTML part must have: a document in
// the right language, nothing executable, nothing fetched from elsewhere.
func checkHTML(t *testing.T, doc, lang string) {
	t.Helper()
	if !strings.HasPrefix(doc, "<!DOCTYPE html>") {
		t.Errorf("HTML does not start with a doctype:\n%.200s", doc)
	}
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("HTML does not parse: %v", err)
	}
	sawLang := false
	for n := range root.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.Data {
		case "script", "img", "iframe", "object", "embed", "link", "style", "form", "base", "meta":
			if n.Data == "meta" {
				break // charset and viewport
			}
			t.Errorf("HTML has a <%s> element", n.Data)
		}
		for _, a := range n.Attr {
			k := strings.ToLower(a.Key)
			if strings.HasPrefix(k, "on") {
				t.Errorf("<%s> has event handler %s=%q", n.Data, a.Key, a.Val)
			}
			// Links go to mail addresses, or to the desk's own pages
			// (http.public_url: the samples' desk.example); nothing is
			// ever loaded.
			ownLink := n.Data == "a" && k == "href" && strings.HasPrefix(a.Val, "https://desk.example/")
			if (k == "src" || k == "href") && !strings.HasPrefix(a.Val, "mailto:") && !ownLink {
				t.Errorf("<%s> refers to %s=%q", n.Data, a.Key, a.Val)
			}
			if k == "lang" && n.Data == "html" {
				sawLang = a.Val == lang
			}
		}
	}
	if !sawLang {
		t.Errorf("<html> lacks lang=%q", lang)
	}
}

// htmlText is the text a reader of doc sees.
func htmlText(t *testing.T, doc string) string {
	t.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for n := range root.Descendants() {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
	}
	return b.String()
}

func TestRenderHTMLEscapesCustomerText(t *testing.T) {
	attacks := []string{
		`<script>alert(1)</script>`,
		`"><img src=x onerror=alert(1)>`,
		`' onmouseover='alert(1)`,
		`</title><script>alert(1)</script>`,
		`<a href="javascript:alert(1)">klik</a>`,
		`{{.DeskName}}`,
	}
	for _, k := range kinds {
		for _, lang := range languages {
			for i, a := range attacks {
				t.Run(fmt.Sprintf("%s/%s/%d", k, lang, i), func(t *testing.T) {
					n := fullNote(k, lang)
					n.Subject, n.ToName, n.Customer, n.MainContactName, n.Priority = a, a, a, a, a
					n.ReportedBy, n.Target, n.Agent, n.Text = a, a, a, a
					for i := range n.Changes {
						n.Changes[i].Old, n.Changes[i].New, n.Changes[i].Reason = a, a, a
					}
					for i := range n.Items {
						n.Items[i].Ticket, n.Items[i].Customer, n.Items[i].Subject, n.Items[i].Priority = a, a, a, a
					}
					r, err := Render(testDesk, n)
					if err != nil {
						t.Fatal(err)
					}
					checkHTML(t, r.HTML, lang)
					if strings.Contains(strings.ToLower(r.HTML), "<script") || strings.Contains(r.HTML, "<img") {
						t.Errorf("HTML has raw markup from %q:\n%s", a, r.HTML)
					}
					// The reader still sees what was written, as text.
					if shown := htmlText(t, r.HTML); !strings.Contains(shown, a) {
						t.Errorf("HTML text lacks %q:\n%s", a, shown)
					}
				})
			}
		}
	}
}

// In a digest and a multi-ticket alert the outside text is in the items:
// every piece of it is shown, as text.
func TestRenderDigestEscapesItems(t *testing.T) {
	for _, k := range []Kind{Digest, SLAAlerts} {
		for _, lang := range languages {
			testRenderItemsEscaped(t, k, lang)
		}
	}
}

func testRenderItemsEscaped(t *testing.T, k Kind, lang string) {
	t.Helper()
	{
		n := fullNote(k, lang)
		n.ToName = ""
		for i := range n.Items {
			it := &n.Items[i]
			it.Ticket, it.Customer, it.Subject, it.Priority = fmt.Sprintf("<b>t%d</b>", i), fmt.Sprintf("<script>c%d</script>", i),
				fmt.Sprintf(`"><img src=x onerror=s%d>`, i), fmt.Sprintf("<i>p%d", i)
			if k == SLAAlerts {
				it.ReportedBy, it.Target = fmt.Sprintf("<u>r%d</u> <x@y>", i), fmt.Sprintf("<s>%dh", i)
			}
		}
		r, err := Render(testDesk, n)
		if err != nil {
			t.Fatal(err)
		}
		checkHTML(t, r.HTML, lang)
		for _, raw := range []string{"<script", "<img", "<b>", "<i>"} {
			if strings.Contains(r.HTML, raw) {
				t.Errorf("%s: HTML has raw %s:\n%s", lang, raw, r.HTML)
			}
		}
		shown := htmlText(t, r.HTML)
		for _, it := range n.Items {
			for _, v := range []string{it.Ticket, it.Customer, it.Subject, it.Priority, it.ReportedBy, it.Target} {
				if !strings.Contains(shown, v) || !strings.Contains(r.Text, v) {
					t.Errorf("%s %s: %q not shown", k, lang, v)
				}
			}
		}
	}
}

func TestRenderCannotAddHeaders(t *testing.T) {
	evil := "Jan\r\nBcc: victim@x.example\r\n\r\n<script>x</script>"
	for _, k := range kinds {
		t.Run(string(k), func(t *testing.T) {
			n := fullNote(k, "nl")
			n.ToName, n.Subject, n.Customer, n.Ticket = evil, evil, evil, "SD-1\nBcc: v@x.example"
			n.ReportedBy, n.Target, n.Agent, n.Text = evil, evil, evil, evil
			for i := range n.Changes {
				n.Changes[i].Field, n.Changes[i].Old, n.Changes[i].New, n.Changes[i].Reason = evil, evil, evil, evil
			}
			for i := range n.Items {
				n.Items[i].Ticket, n.Items[i].Customer, n.Items[i].Subject = evil, evil, evil
			}
			r, err := Render(testDesk, n)
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(r.Subject, "\r\n") {
				t.Errorf("Subject %q has a line break", r.Subject)
			}
			for h, v := range r.Headers {
				if strings.ContainsAny(h+v, "\r\n") {
					t.Errorf("header %s: %q has a line break", h, v)
				}
			}
			if strings.ContainsAny(r.MessageID, "\r\n ") {
				t.Errorf("Message-ID %q", r.MessageID)
			}
		})
	}
}

func TestAutoSubmittedByKind(t *testing.T) {
	tests := []struct {
		kind Kind
		want string
	}{
		{Ack, "auto-replied"},
		{Rejection, "auto-replied"},
		{TooLarge, "auto-replied"},
		{SLAWarning, "auto-generated"},
		{SLABreach, "auto-generated"},
		{SLAAlerts, "auto-generated"},
		{Digest, "auto-generated"},
		{Progress, "auto-generated"},
		// A person's reply relayed by the desk.
		{AgentReply, "no"},
		// A kind without a spec is not answering anybody.
		{"reminder", "auto-generated"},
	}
	for _, tt := range tests {
		if got := tt.kind.AutoSubmitted(); got != tt.want {
			t.Errorf("%s.AutoSubmitted() = %q, want %q", tt.kind, got, tt.want)
		}
		if got, want := tt.kind.Automatic(), tt.want != "no"; got != want {
			t.Errorf("%s.Automatic() = %v, want %v", tt.kind, got, want)
		}
	}
	for _, k := range kinds {
		r, err := Render(testDesk, fullNote(k, "en"))
		if err != nil {
			t.Fatal(err)
		}
		want := k.AutoSubmitted()
		if !k.Automatic() {
			want = "" // sent without the header
		}
		if got, ok := r.Headers["Auto-Submitted"]; got != want || ok != (want != "") {
			t.Errorf("%s: Auto-Submitted %q (present %v)", k, got, ok)
		}
	}
}

// writeDir makes a templates directory holding files.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func defaultSource(t *testing.T, name string) string {
	t.Helper()
	b, err := embeddedTemplates.ReadFile(embeddedDir + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoadTemplatesOverride(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"ack.nl.txt.tmpl":      "Hallo {{.ToName}}, melding {{.Ticket}} ontvangen {{date .Received}}.\n",
		"ack.nl.html.tmpl":     "<p>Hallo {{.ToName}}, melding <b>{{.Ticket}}</b> ontvangen {{date .Received}}.</p>\n",
		".ack.nl.txt.tmpl.swp": "editor junk",
		"..data/x":             "Kubernetes ConfigMap internals",
	})
	tpl, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.File(Ack, "nl", FormatText); got != filepath.Join(dir, "ack.nl.txt.tmpl") {
		t.Errorf("ack nl text from %q", got)
	}
	if got := tpl.File(Ack, "en", FormatText); got != "templates/ack.en.txt.tmpl" {
		t.Errorf("ack en text from %q", got)
	}

	d := testDesk
	d.Templates = tpl
	d.Location, _ = time.LoadLocation("Europe/Amsterdam")
	n := ackNote()
	n.ToName = "<Jan>"
	n.Received = time.Date(2026, 11, 21, 19, 25, 0, 0, time.UTC)
	r, err := Render(d, n)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Hallo <Jan>, melding SD-1 ontvangen zaterdag 21 november 2026 om 20:25.\n"; r.Text != want {
		t.Errorf("text = %q, want %q", r.Text, want)
	}
	if want := "<p>Hallo &lt;Jan&gt;, melding <b>SD-1</b> ontvangen zaterdag 21 november 2026 om 20:25.</p>\n"; r.HTML != want {
		t.Errorf("html = %q, want %q", r.HTML, want)
	}
	// The other languages and kinds keep the defaults.
	n.Language = "en"
	if r, err := Render(d, n); err != nil || !strings.HasPrefix(r.Text, "Dear <Jan>,") {
		t.Errorf("en: %v %q", err, r.Text)
	}

	// Without templates, the defaults.
	if tpl, err := LoadTemplates(""); err != nil || tpl != DefaultTemplates() {
		t.Errorf("LoadTemplates(\"\") = %p, %v", tpl, err)
	}
}

// LoadTemplates executes the new kinds' templates on alerts sent in time
// and late, and on an empty and a multi-customer digest, so that a mistake
// inside {{if .Late}} or {{range .Groups}} surfaces at start.
func TestSamplesCoverAlertsAndDigests(t *testing.T) {
	for _, k := range []Kind{SLAWarning, SLABreach} {
		var inTime, late bool
		for _, n := range sampleNotifications(k) {
			inTime = inTime || !n.Late && !n.Deadline.IsZero()
			late = late || n.Late && !n.Deadline.IsZero()
		}
		if !inTime || !late {
			t.Errorf("%s samples: in time %v, late %v", k, inTime, late)
		}
	}
	var empty, multi bool
	for _, n := range sampleNotifications(Digest) {
		groups, breached, atRisk := groupDigest(n.Items, time.UTC)
		empty = empty || len(groups) == 0
		multi = multi || len(groups) > 1 && breached > 0 && atRisk > 0
	}
	if !empty || !multi {
		t.Errorf("digest samples: empty %v, multi-customer %v", empty, multi)
	}

	bad := map[string]map[string]string{
		"sla_breach.en.txt.tmpl": {
			"sla_breach.en.txt.tmpl":  "{{if .Late}}{{date .Target}}{{end}}\n",
			"sla_breach.en.html.tmpl": defaultSource(t, "sla_breach.en.html.tmpl"),
		},
		"digest.nl.html.tmpl": {
			"digest.nl.txt.tmpl":  defaultSource(t, "digest.nl.txt.tmpl"),
			"digest.nl.html.tmpl": "<p>{{range .Groups}}{{range .Items}}{{.Deadlin}}{{end}}{{end}}</p>\n",
		},
		"digest.en.txt.tmpl": {
			"digest.en.txt.tmpl":  "{{if not .Groups}}{{.Groups.Nope}}{{end}}\n",
			"digest.en.html.tmpl": defaultSource(t, "digest.en.html.tmpl"),
		},
	}
	for file, files := range bad {
		dir := writeDir(t, files)
		_, err := LoadTemplates(dir)
		if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, file)+":") {
			t.Errorf("%s: LoadTemplates: %v", file, err)
		}
	}
	// The defaults load as overrides too.
	files := map[string]string{}
	for _, k := range []Kind{SLAWarning, SLABreach, SLAAlerts, Digest} {
		for _, lang := range languages {
			for _, f := range formats {
				name := templateKey{k, lang, f}.fileName()
				files[name] = defaultSource(t, name)
			}
		}
	}
	if _, err := LoadTemplates(writeDir(t, files)); err != nil {
		t.Error(err)
	}
}

func TestLoadTemplatesSymlinkAndTextOnly(t *testing.T) {
	src := writeDir(t, map[string]string{"ack.en.txt.tmpl": "Ticket {{.Ticket}}\n"})
	dir := writeDir(t, map[string]string{"ack.en.html.tmpl": " \n\t\n"})
	if err := os.Symlink(filepath.Join(src, "ack.en.txt.tmpl"), filepath.Join(dir, "ack.en.txt.tmpl")); err != nil {
		t.Skip("no symlinks:", err)
	}
	tpl, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := testDesk
	d.Templates = tpl
	n := ackNote()
	n.Language = "en"
	r, err := Render(d, n)
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != "Ticket SD-1\n" || r.HTML != "" {
		t.Errorf("text %q, html %q; want the linked text and no HTML part", r.Text, r.HTML)
	}
}

func TestLoadTemplatesProblems(t *testing.T) {
	good := func(name string) string { return defaultSource(t, name) }
	tests := []struct {
		name  string
		files map[string]string
		// want: file name -> substrings of its problem line ("FILE:LINE: reason")
		want map[string][]string
	}{
		{
			name: "undefined function in html",
			files: map[string]string{
				"ack.nl.txt.tmpl":  good("ack.nl.txt.tmpl"),
				"ack.nl.html.tmpl": "<p>Hallo</p>\n\n<p>{{foo .Ticket}}</p>\n",
			},
			want: map[string][]string{"ack.nl.html.tmpl": {":3: function \"foo\" not defined"}},
		},
		{
			name: "unclosed if in text",
			files: map[string]string{
				"rejection.en.txt.tmpl":  "Hello\n{{if .ToName}}\nDear {{.ToName}}\n",
				"rejection.en.html.tmpl": good("rejection.en.html.tmpl"),
			},
			want: map[string][]string{"rejection.en.txt.tmpl": {":4: unexpected EOF"}},
		},
		{
			name: "unknown field",
			files: map[string]string{
				"ack.en.txt.tmpl":  "Dear {{.ToName}},\n\n{{.NoSuchField}}\n",
				"ack.en.html.tmpl": good("ack.en.html.tmpl"),
			},
			want: map[string][]string{"ack.en.txt.tmpl": {":3: unknown field .NoSuchField"}},
		},
		{
			name: "misspelt field in a branch no sample takes",
			files: map[string]string{
				"ack.en.txt.tmpl":  "{{if eq .PriorityReason \"never\"}}\n{{.Recieved}}\n{{end}}\n",
				"ack.en.html.tmpl": "{{with .Ticket}}{{.}}{{end}} {{$.Ticket.Nope}}\n",
			},
			want: map[string][]string{
				"ack.en.txt.tmpl":  {":2: unknown field .Recieved", "did you mean .Received?"},
				"ack.en.html.tmpl": {":1: unknown field .Ticket.Nope"},
			},
		},
		{
			name: "wrong argument type found by executing",
			files: map[string]string{
				"too_large.nl.txt.tmpl":  "Groot\n{{date .Subject}}\n",
				"too_large.nl.html.tmpl": good("too_large.nl.html.tmpl"),
			},
			want: map[string][]string{"too_large.nl.txt.tmpl": {":2: at <.Subject>: wrong type for value; expected time.Time; got string"}},
		},
		{
			name: "html that cannot be escaped",
			files: map[string]string{
				"too_large.en.txt.tmpl":  good("too_large.en.txt.tmpl"),
				"too_large.en.html.tmpl": "<p>\n<a href=\"{{.DeskAddress}}>x</a>\n",
			},
			want: map[string][]string{"too_large.en.html.tmpl": {"too_large.en.html.tmpl: ends inside a tag, attribute, comment or URL"}},
		},
		{
			name: "unknown file names",
			files: map[string]string{
				"ack.nl.tmpl":          "x",
				"akc.en.txt.tmpl":      "x",
				"ack.de.txt.tmpl":      "x",
				"README.md":            "x",
				"acknowledgement.tmpl": "x",
			},
			want: map[string][]string{
				"ack.nl.tmpl":          {"is not a template name", `did you mean "ack.nl.txt.tmpl"?`},
				"akc.en.txt.tmpl":      {`did you mean "ack.en.txt.tmpl"?`},
				"ack.de.txt.tmpl":      {"is not a template name", "LANG one of en, nl"},
				"README.md":            {"is not a template name", "KIND one of ack, rejection, too_large"},
				"acknowledgement.tmpl": {"is not a template name"},
			},
		},
		{
			name:  "text without html",
			files: map[string]string{"ack.nl.txt.tmpl": good("ack.nl.txt.tmpl")},
			want:  map[string][]string{"ack.nl.txt.tmpl": {"ack.nl.html.tmpl must be overridden too"}},
		},
		{
			name: "not UTF-8",
			files: map[string]string{
				"ack.nl.txt.tmpl":  "Beste,\n\nGe\xefnteresseerd\n",
				"ack.nl.html.tmpl": good("ack.nl.html.tmpl"),
			},
			want: map[string][]string{"ack.nl.txt.tmpl": {":3: is not valid UTF-8"}},
		},
		{
			name: "every problem at once",
			files: map[string]string{
				"ack.nl.txt.tmpl":        "{{.Nope}}",
				"ack.nl.html.tmpl":       "{{end}}",
				"rejection.nl.txt.tmpl":  "{{",
				"rejection.nl.html.tmpl": good("rejection.nl.html.tmpl"),
				"typo.tmpl":              "",
			},
			want: map[string][]string{
				"ack.nl.txt.tmpl":       {":1: unknown field .Nope"},
				"ack.nl.html.tmpl":      {":1: unexpected {{end}}"},
				"rejection.nl.txt.tmpl": {":1: "},
				"typo.tmpl":             {"is not a template name"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.files)
			tpl, err := LoadTemplates(dir)
			if err == nil {
				t.Fatalf("LoadTemplates succeeded: %v", tpl)
			}
			var ps TemplateProblems
			if !errors.As(err, &ps) {
				t.Fatalf("error is %T, not TemplateProblems: %v", err, err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for name, subs := range tt.want {
				file := filepath.Join(dir, name)
				var line string
				for _, l := range lines {
					if strings.HasPrefix(l, file+":") {
						line = l
					}
				}
				if line == "" {
					t.Errorf("no problem names %s:\n%v", file, err)
					continue
				}
				for _, s := range subs {
					if !strings.Contains(line, s) {
						t.Errorf("problem %q lacks %q", line, s)
					}
				}
			}
			for _, p := range ps {
				if strings.Contains(p.Reason, p.File) {
					t.Errorf("reason repeats the file name: %q", p.String())
				}
			}
		})
	}
}

func TestLoadTemplatesDirProblems(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := LoadTemplates(missing)
	if err == nil || err.Error() != missing+": templates directory does not exist" {
		t.Errorf("missing dir: %v", err)
	}
	file := filepath.Join(writeDir(t, map[string]string{"f": "x"}), "f")
	if _, err := LoadTemplates(file); err == nil || !strings.HasPrefix(err.Error(), file+": ") {
		t.Errorf("file as dir: %v", err)
	}
}

// The parsed templates are shared by every send; executions clone them.
func TestRenderConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := testDesk
			if i%2 == 0 {
				d.Location = loc
			}
			for _, k := range kinds {
				for _, lang := range languages {
					if _, err := Render(d, fullNote(k, lang)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzRender(f *testing.F) {
	for pick := range uint8(2 * 8 * len(kinds)) {
		f.Add("Printer <b>kapot</b>", "Jan \"J\" <jan@x.example>", pick) // every kind, language and Late
	}
	for _, s := range []string{"", "Printer", "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>",
		"a\r\nBcc: v@x.example", "\x00\x7f\u2028\u2029", "\xff\xfe", "{{.DeskName}}", strings.Repeat("é", 400)} {
		f.Add(s, s, uint8(0))
	}
	// Replies and updates: reply prefixes, multi-line text, odd statuses.
	reply, progress := uint8(slices.Index(kinds, AgentReply)), uint8(slices.Index(kinds, Progress))
	for _, s := range [][2]string{
		{"RE: [SD-1] Antw: Re[2]: Printer", "Piet <b>Agent</b>"},
		{"Re:", "line one\r\nline two\rline three\n\n\n<script>x</script>"},
		{"\r\n\r\n", "\t  \r\n"},
		{"waiting_customer", "in_progress"},
	} {
		for _, pick := range []uint8{reply, reply + 8, progress, progress + 8} {
			f.Add(s[0], s[1], pick)
		}
	}
	f.Fuzz(func(t *testing.T, subject, name string, pick uint8) {
		k := kinds[int(pick)%len(kinds)]
		lang := languages[int(pick/8)%len(languages)]
		n := fullNote(k, lang)
		n.Subject, n.ToName, n.Customer, n.MainContactName = subject, name, name, name
		n.RequestedPriority, n.Ticket = name, "SD-"+subject
		n.ReportedBy, n.Target, n.Late = name, subject, (pick>>4)&1 == 1
		n.Agent, n.Text = name, "Tekst\r\n"+subject+"\n"+name
		for i := range n.Changes {
			n.Changes[i].Old, n.Changes[i].New, n.Changes[i].Reason = subject, name, subject
		}
		for i := range n.Items {
			n.Items[i].Ticket, n.Items[i].Customer, n.Items[i].Subject, n.Items[i].Priority = "SD-"+name, name, subject, name
		}
		r, err := Render(testDesk, n)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(r.Subject, "\r\n") {
			t.Errorf("Subject %q", r.Subject)
		}
		for h, v := range r.Headers {
			if strings.ContainsAny(h+v, "\r\n") {
				t.Errorf("header %s: %q", h, v)
			}
		}
		if strings.Contains(strings.ToLower(r.HTML), "<script") {
			t.Errorf("HTML has <script:\n%s", r.HTML)
		}
		if r.Text == "" || r.HTML == "" {
			t.Error("empty part")
		}
		if k == AgentReply && (!strings.HasPrefix(r.Text, "Tekst\n") || strings.Contains(r.Text, "\r")) {
			t.Errorf("reply text not kept as written:\n%q", r.Text)
		}
	})
}

// LoadTemplates executes the update templates on every branch the defaults
// have (each closing status, an unassignment, an unknown field, a reason)
// and the reply templates on a reply without an agent's name.
func TestSamplesCoverRepliesAndProgress(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range sampleNotifications(Progress) {
		changes, status := cleanChanges(n.Changes)
		seen["status "+status] = true
		for _, c := range changes {
			switch {
			case c.Field == ChangeAssignee && c.New == "":
				seen["unassigned"] = true
			case c.Field == ChangeAssignee:
				seen["assigned"] = true
			case c.Field != ChangeStatus && c.Field != ChangePriority:
				seen["other field"] = true
			}
			if c.Reason != "" {
				seen["reason"] = true
			}
		}
	}
	for _, want := range []string{"status waiting_customer", "status resolved", "status closed", "status in_progress", "unassigned", "assigned", "other field", "reason"} {
		if !seen[want] {
			t.Errorf("progress samples lack %s", want)
		}
	}
	var anonymous bool
	for _, n := range sampleNotifications(AgentReply) {
		anonymous = anonymous || n.Agent == "" && n.Text != ""
	}
	if !anonymous {
		t.Error("reply samples lack one without an agent")
	}

	bad := map[string]map[string]string{
		"progress.en.txt.tmpl": {
			"progress.en.txt.tmpl":  "{{range .Changes}}{{if eq .Field \"assignee\"}}{{if not .New}}{{.Nope}}{{end}}{{end}}{{end}}\n",
			"progress.en.html.tmpl": defaultSource(t, "progress.en.html.tmpl"),
		},
		"reply.nl.html.tmpl": {
			"reply.nl.txt.tmpl":  defaultSource(t, "reply.nl.txt.tmpl"),
			"reply.nl.html.tmpl": "<p>{{range .Paragraphs}}{{range .}}{{.Nope}}{{end}}{{end}}</p>\n",
		},
	}
	for file, files := range bad {
		dir := writeDir(t, files)
		_, err := LoadTemplates(dir)
		if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, file)+":") {
			t.Errorf("%s: LoadTemplates: %v", file, err)
		}
	}
	files := map[string]string{}
	for _, k := range []Kind{AgentReply, Progress} {
		for _, lang := range languages {
			for _, f := range formats {
				name := templateKey{k, lang, f}.fileName()
				files[name] = defaultSource(t, name)
			}
		}
	}
	if _, err := LoadTemplates(writeDir(t, files)); err != nil {
		t.Error(err)
	}
}
