package httpapi

import (
	"html/template"
	"strconv"
	"strings"
)

// A dashboard of a thousand open tickets is a thousand rows; html/template
// spends most of a render on the twenty-odd reflective calls per row. The
// rows are written here instead, escaped exactly as html/template escapes
// text and quoted attribute values (its HTML replacement table), so that
// the page is the same byte for byte.

var rowEscaper = strings.NewReplacer(
	"\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;",
)

// HTML is the row as the template wrote it.
func (r dashRow) HTML() template.HTML {
	var b strings.Builder
	b.Grow(600)
	r.write(&b)
	return template.HTML(b.String())
}

// RowsHTML is the group's rows, each after a line break: one call of the
// template per customer rather than one per ticket.
func (g dashGroup) RowsHTML() template.HTML {
	var b strings.Builder
	b.Grow(600 * len(g.Rows))
	for i := range g.Rows {
		b.WriteByte('\n')
		g.Rows[i].write(&b)
	}
	return template.HTML(b.String())
}

// write writes the row to b.
func (r *dashRow) write(b *strings.Builder) {
	e := func(s string) { _, _ = rowEscaper.WriteString(b, s) }
	b.WriteString(`<tr class="`)
	e(r.State)
	b.WriteString("\">\n<th scope=\"row\">")
	if r.URL != "" {
		b.WriteString(`<a href="`)
		e(r.URL)
		b.WriteString(`">`)
		e(r.Number)
		b.WriteString(`</a>`)
	} else {
		e(r.Number)
	}
	b.WriteString("</th>\n<td class=\"subject\">")
	e(r.Subject)
	if r.Channel != "" {
		b.WriteString(` <span class="channel">(`)
		e(r.Channel)
		b.WriteString(`)</span>`)
	}
	if r.Type != "" {
		b.WriteString(`<br><span class="type muted">`)
		e(r.Type)
		b.WriteString(`</span>`)
	}
	b.WriteString(`</td>` + "\n" + `<td class="prio"`)
	if r.PriorityLabel != "" {
		b.WriteString(` title="`)
		e(r.Priority)
		b.WriteString(`"`)
		b.WriteString(">")
		e(r.PriorityLabel)
	} else {
		b.WriteString(">")
		e(r.Priority)
	}
	b.WriteString("</td>\n<td>")
	e(r.Status)
	b.WriteString("</td>\n<td class=\"contact\">")
	e(r.Contact)
	b.WriteString("</td>\n<td>")
	if r.Assignee != "" {
		e(r.Assignee)
	} else {
		b.WriteString(`<span class="muted">nobody</span>`)
	}
	b.WriteString("</td>\n<td class=\"age\">")
	if r.Age != "" {
		b.WriteString(`<time datetime="`)
		e(r.CreatedISO)
		b.WriteString(`" title="created `)
		e(r.CreatedText)
		b.WriteString(`">`)
		e(r.Age)
		b.WriteString(`</time>`)
	}
	b.WriteString("</td>\n<td class=\"clock\"><span class=\"bar ")
	e(r.State)
	b.WriteString(`" aria-hidden="true"><span class="fill" style="display: block; width: `)
	b.WriteString(strconv.Itoa(r.Pct))
	b.WriteString(`%"></span></span><span class="clock-text">`)
	e(r.Clock)
	b.WriteString(`</span>`)
	if r.DueText != "" {
		b.WriteString(` <span class="due">due <time datetime="`)
		e(r.DueISO)
		b.WriteString(`">`)
		e(r.DueText)
		b.WriteString(`</time></span>`)
	}
	b.WriteString("</td>\n</tr>")
}
