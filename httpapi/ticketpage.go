package httpapi

// A ticket's page for agents (/tickets/SD-1): what the ticket is, its whole
// history, its attachments (streamed from the original mail in IMAP), and
// forms for what an agent does: reply, note, change. The forms post without
// JavaScript, each to its own path, through the same workflow as the API,
// the CLI and agents' mail; after a post the browser is sent back to the
// page (post/redirect/get). It sits behind RequireToken like the dashboard,
// whose cross-origin protection refuses a post from another site (CSRF); the
// agent is the token's name.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// TicketPath is where tickets' pages are: TicketPath + "SD-1".
const TicketPath = "/tickets/"

// TicketURL is the address of ticket number's page under publicURL
// (http.public_url), "" without one: what SLA mails link to.
func TicketURL(publicURL, number string) string {
	if publicURL == "" || number == "" {
		return ""
	}
	return strings.TrimSuffix(publicURL, "/") + TicketPath + url.PathEscape(number)
}

// TicketReader reads one ticket and its history (ticket.Store).
type TicketReader interface {
	Get(ctx context.Context, number string) (*ticket.Ticket, error)
	Events(ctx context.Context, number string) ([]ticket.Event, error)
}

// PageWorkflow is what the page's forms do (workflow.Service): each with
// an idempotency key, so that a form sent twice acts once.
type PageWorkflow interface {
	ReplyRequest(ctx context.Context, number string, by workflow.Agent, text, status, key string) error
	NoteRequest(ctx context.Context, number string, by workflow.Agent, text, key string) error
	SetRequest(ctx context.Context, number string, by workflow.Agent, c workflow.Change, key string) (*ticket.Ticket, error)
	// RecordTimeRequest and TimeOf: the time worked on a ticket (issue
	// 21), entered here as by `maildesk tickets time`.
	RecordTimeRequest(ctx context.Context, number string, by workflow.Agent, e workflow.TimeEntry, key string) (ticket.TimeRecord, bool, error)
	TimeOf(ctx context.Context, number string) (workflow.TimeSummary, error)
}

// Originals copies the original of a mail as the mailbox has it to out
// (ingest.Mailbox.Raw; another kind of mailbox may serve them too): src
// and messageID as the ticket or event recorded.
type Originals interface {
	Raw(ctx context.Context, src ticket.Source, messageID string, out io.Writer) error
}

// Extractor streams the decoded content of the attachment at part of the
// mail read from r to out and returns its SHA-256 (hex), parsing the mail
// as ingest did (mailparse.ExtractPart with the desk's limits).
type Extractor func(r io.Reader, part int, out io.Writer) (sha256 string, err error)

// TicketPages is what the tickets' pages work with (WithTicketPages).
type TicketPages struct {
	Tickets  TicketReader
	Workflow PageWorkflow
	// Originals and Extract serve attachments from the original mails;
	// either nil: attachments are listed but not offered.
	Originals Originals
	Extract   Extractor
	// Agents are the names the assignee field suggests (desk.agents and
	// http.tokens).
	Agents []string
	// Links are the customers' status links of a ticket (revoked from its
	// page); nil: the page shows none.
	Links LinkRevoker
	// Log is where the pages log; nil: slog.Default().
	Log *slog.Logger
}

// LinkRevoker revokes a ticket's status links (access.Store).
type LinkRevoker interface {
	Count(ctx context.Context, number string) (int, error)
	Revoke(ctx context.Context, number string) (int, error)
}

// WithTicketPages serves a page per ticket under TicketPath with the
// agents' actions on it, and links each ticket on the dashboard to it.
func WithTicketPages(p TicketPages) DashboardOption {
	return func(d *dashboard) { d.pages = &p }
}

// attachmentTimeout bounds one download: fetching the original and
// streaming it through the parser.
const attachmentTimeout = 2 * time.Minute

// pageCSP is the policy of the agents' pages (dashboard, open form,
// ticket page): no scripts, no images, no frames, no fonts; inline styles
// only; forms post to this site only. Mail text is hostile, and escaped as
// well: the policy is the second wall.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed templates/ticket.html
var ticketFS embed.FS

var ticketTmpl = template.Must(template.New("ticket.html").Funcs(pageFuncs).ParseFS(ticketFS, "templates/ticket.html"))

// pageFuncs are the helpers the pages' templates share.
var pageFuncs = template.FuncMap{
	"ticketURL": func(number string) string { return TicketPath + url.PathEscape(number) },
}

func (d *dashboard) routeTicketPages(mux *http.ServeMux) {
	mux.HandleFunc("GET "+TicketPath+"{number}", d.serveTicket)
	mux.HandleFunc("POST "+TicketPath+"{number}/reply", d.postTicketAction)
	mux.HandleFunc("POST "+TicketPath+"{number}/note", d.postTicketAction)
	mux.HandleFunc("POST "+TicketPath+"{number}/set", d.postTicketAction)
	mux.HandleFunc("POST "+TicketPath+"{number}/links", d.postTicketAction)
	mux.HandleFunc("POST "+TicketPath+"{number}/time", d.postTicketAction)
	mux.HandleFunc("GET "+TicketPath+"{number}/mail/{mail}/part/{part}", d.serveAttachment)
}

// ticketPage is what templates/ticket.html renders.
type ticketPage struct {
	// Time is the time recorded on the ticket and its budget, in words.
	Time    string
	Desk    string
	Zone    string
	Number  string
	Subject string
	Error   string
	Done    string // what the last post did, shown once
	// Facts about the ticket.
	Customer, Contact, ContactAddr string
	Participants                   []string
	Status, StatusCode             string
	Priority, PriorityLabel        string
	PriorityReason                 string
	Type                           string
	Assignee                       string
	Channel, OpenedBy              string
	CreatedText, CreatedISO        string
	LinkedTo                       string
	Clock                          dashRow
	NeedsAgent                     string // why, "" for no
	Entries                        []pageEntry
	// The forms.
	Forms      actionForms
	Statuses   []openChoice // for the change form
	ReplyAfter []openChoice // status after a reply
	Priorities []openChoice
	Types      []openChoice
	Agents     []string
	// Links is how many status links the ticket's customer side holds;
	// -1 when the desk gives none.
	Links    int
	OpenPath string
	Closed   bool
}

// actionForms are the forms' contents: keys, and what an agent wrote when
// a post failed (shown again, so that nothing typed is lost).
type actionForms struct {
	ReplyKey, NoteKey, SetKey, LinksKey string
	// The time form: its key and what was entered.
	TimeKey, Duration, Activity, TimeNote string
	Reply, Note, Reason, Assignee         string
	ReplyStatus                           string
}

// pageEntry is one entry of the history as shown.
type pageEntry struct {
	ID     string // the anchor
	Class  string // customer | agent | note | change | machine
	Title  string
	From   string
	AtText string
	AtISO  string
	Text   string
	Quoted string
	// Channel says a reply came from the status page, or how an opened
	// ticket's request came in.
	Channel     string
	Changes     []pageChange
	Attachments []pageAttachment
}

type pageChange struct {
	Field, Old, New, Reason string
}

type pageAttachment struct {
	Name, Type, Size string
	URL              string // "" when it cannot be downloaded
	Inline           bool
}

func (d *dashboard) serveTicket(w http.ResponseWriter, r *http.Request) {
	done := r.URL.Query().Get("done")
	if _, ok := doneText[done]; !ok {
		done = ""
	}
	d.writeTicket(w, r, http.StatusOK, r.PathValue("number"), doneText[done], "", actionForms{})
}

// doneText says what a post did, by the ?done= it redirects with; anything
// else in ?done= shows nothing (a link cannot make the page say more).
var doneText = map[string]string{
	"reply": "Reply recorded and mailed to the customer's side.",
	"note":  "Note added.",
	"time":  "Time recorded.",
	"set":   "Ticket changed; the customer's side is told what changed.",
	"same":  "Nothing to change: the ticket already was as the form said.",
	"links": "The ticket's status links are revoked: the links in mails sent so far lead nowhere now.",
}

func (d *dashboard) writeTicket(w http.ResponseWriter, r *http.Request, code int, number, done, errMsg string, forms actionForms) {
	ctx, cancel := context.WithTimeout(r.Context(), dashboardTimeout)
	defer cancel()
	t, err := d.pages.Tickets.Get(ctx, number)
	if err != nil {
		d.ticketError(w, r, err)
		return
	}
	events, err := d.pages.Tickets.Events(ctx, t.Number)
	if err != nil {
		d.ticketError(w, r, err)
		return
	}
	now := d.now()
	page := d.ticketPage(t, events, now)
	page.Done, page.Error = done, notify.SafeText(errMsg)
	// Fresh keys for every form not being shown again after an error.
	for _, k := range []*string{&forms.ReplyKey, &forms.NoteKey, &forms.SetKey, &forms.LinksKey, &forms.TimeKey} {
		if *k == "" {
			*k = rand.Text()
		}
	}
	if forms.Assignee == "" && errMsg == "" {
		forms.Assignee = t.Assignee
	}
	page.Forms = forms
	// The time recorded so far; a page without it is still a page.
	if ts, err := d.pages.Workflow.TimeOf(ctx, t.Number); err == nil {
		page.Time = fmt.Sprintf("%s recorded, %s billable", minutesText(ts.Minutes), minutesText(ts.Billable))
		if ts.Budget > 0 {
			page.Time += fmt.Sprintf("; budget %s (%s)", minutesText(ts.Budget), ts.BudgetState)
		}
	}
	page.Links = -1
	if d.pages.Links != nil {
		if n, err := d.pages.Links.Count(ctx, t.Number); err == nil {
			page.Links = n
		}
	}
	d.render(w, r, code, ticketTmpl, page, pageCSP)
}

// ticketPage builds the page of t with its history.
func (d *dashboard) ticketPage(t *ticket.Ticket, events []ticket.Event, now time.Time) ticketPage {
	row := d.row(t, now)
	p := ticketPage{
		Desk: notify.SafeLine(d.desk), Zone: zoneName(d.loc, now), Number: row.Number, Subject: row.Subject,
		Customer: d.customerName(t.Customer), Contact: notify.SafeLine(cmp.Or(t.ContactName, t.Contact)),
		ContactAddr: notify.SafeLine(t.Contact), Status: row.Status, StatusCode: t.Status,
		Priority: row.Priority, PriorityLabel: row.PriorityLabel, PriorityReason: notify.SafeLine(t.PriorityReason),
		Type: cmp.Or(row.Type, notify.SafeLine(strings.ReplaceAll(t.Type, "_", " "))), Assignee: row.Assignee,
		Channel: row.Channel, OpenedBy: notify.SafeLine(t.OpenedBy), CreatedText: row.CreatedText, CreatedISO: row.CreatedISO,
		LinkedTo: notify.SafeLine(t.LinkedTo), Clock: row, OpenPath: "", Closed: t.Status == ticket.StatusClosed,
		Agents: d.pages.Agents,
	}
	if d.opener != nil {
		p.OpenPath = OpenPath
	}
	for _, a := range t.Participants {
		p.Participants = append(p.Participants, notify.SafeLine(a))
	}
	if t.NeedsAgentSince != nil {
		p.NeedsAgent = d.attention(t, now).Why
	}
	// The request: the mail that made the ticket, or what the agent who
	// took the call wrote.
	first := pageEntry{
		ID: "request", Class: "customer", Title: "Request", From: fromText(t.ContactName, t.Contact),
		AtText: t.CreatedAt.In(d.loc).Format("Mon 2 Jan 2006 15:04"), AtISO: t.CreatedAt.UTC().Format(time.RFC3339),
		Text: notify.SafeText(t.Text), Quoted: notify.SafeText(t.Quoted),
		Attachments: d.attachments(t.Number, 0, t.Channel == ticket.ChannelMail, t.Attachments),
	}
	switch t.Channel {
	case ticket.ChannelMail:
	case ticket.ChannelWeb:
		first.Title = "Request written on a status page (a reply on a closed ticket)"
	default:
		first.Title = "Request taken by " + strings.ReplaceAll(notify.SafeLine(t.Channel), "_", " ")
		if t.OpenedBy != "" {
			first.Title += " (written by " + notify.SafeLine(t.OpenedBy) + ")"
		}
	}
	p.Entries = append(p.Entries, first)
	for i, e := range events {
		p.Entries = append(p.Entries, d.entry(t.Number, i+1, e))
	}
	p.Statuses = []openChoice{{Value: t.Status, Label: statusText(t.Status) + " (now)", Selected: true}}
	for _, s := range ticket.Transitions[t.Status] {
		p.Statuses = append(p.Statuses, openChoice{Value: s, Label: statusText(s)})
	}
	p.ReplyAfter = []openChoice{{Value: "", Label: "in progress (unless waiting for the customer already)", Selected: true}}
	for _, s := range []string{ticket.StatusWaitingCustomer, ticket.StatusResolved} {
		if s != t.Status && ticket.CanTransition(t.Status, s) {
			p.ReplyAfter = append(p.ReplyAfter, openChoice{Value: s, Label: statusText(s)})
		}
	}
	plan := d.plan(t)
	allowed := plan.TypePriorities(t.Type)
	for _, pr := range config.Priorities {
		if !slices.Contains(allowed, pr) && pr != t.Priority {
			continue
		}
		label := pr
		if l := d.priorityLabelOf(t, pr); l != "" && l != pr {
			label = l + " (" + pr + ")"
		}
		p.Priorities = append(p.Priorities, openChoice{Value: pr, Label: notify.SafeLine(label), Selected: pr == t.Priority})
	}
	for _, typ := range plan.TypeNames() {
		label := strings.ReplaceAll(typ, "_", " ")
		if n := plan.TypeName(d.lang, typ); n != "" && n != typ {
			label = n + " (" + typ + ")"
		}
		p.Types = append(p.Types, openChoice{Value: typ, Label: notify.SafeLine(label), Selected: typ == t.Type})
	}
	if !slices.ContainsFunc(p.Types, func(c openChoice) bool { return c.Selected }) {
		// A type the plan no longer has: shown, so the form leaves it.
		p.Types = append([]openChoice{{Value: t.Type, Label: notify.SafeLine(t.Type) + " (not in the plan)", Selected: true}}, p.Types...)
	}
	return p
}

// priorityLabelOf is the plan's word for priority pr of t's customer.
func (d *dashboard) priorityLabelOf(t *ticket.Ticket, pr string) string {
	c := *t
	c.Priority = pr
	return d.priorityLabel(&c)
}

// entry is event e (the i-th, 1-based) of ticket number as shown.
func (d *dashboard) entry(number string, i int, e ticket.Event) pageEntry {
	out := pageEntry{
		ID: "e" + strconv.Itoa(i), From: notify.SafeLine(e.From),
		AtText: e.At.In(d.loc).Format("Mon 2 Jan 2006 15:04"), AtISO: e.At.UTC().Format(time.RFC3339),
		Text: notify.SafeText(e.Text), Quoted: notify.SafeText(e.Quoted),
	}
	if e.Channel != "" {
		out.Channel = notify.SafeLine(strings.ReplaceAll(e.Channel, "_", " "))
	}
	switch e.Kind {
	case ticket.EventReply:
		out.Class, out.Title = "customer", "Customer's mail"
		if e.Channel == ticket.ChannelWeb {
			out.Title, out.Channel = "Customer's reply on the status page", ""
		}
	case ticket.EventFeatureReply:
		out.Class, out.Title = "customer", "Customer replied on the closed feature request"
	case ticket.EventAgentReply:
		out.Class, out.Title = "agent", "Reply"
	case ticket.EventNote:
		out.Class, out.Title = "note", "Internal note"
	case ticket.EventChange:
		out.Class, out.Title = "change", "Changed"
	case ticket.EventAutoReply:
		out.Class, out.Title = "machine", "Automatic reply"
	case ticket.EventBounce:
		out.Class, out.Title = "machine", "Bounce: a mail about this ticket could not be delivered"
	case ticket.EventOpened:
		out.Class, out.Title = "change", "Opened"
	default:
		out.Class, out.Title = "change", notify.SafeLine(strings.ReplaceAll(e.Kind, "_", " "))
	}
	for _, c := range e.Changes {
		out.Changes = append(out.Changes, pageChange{
			Field: notify.SafeLine(c.Field), Old: notify.SafeLine(cmp.Or(strings.ReplaceAll(c.Old, "_", " "), "(none)")),
			New: notify.SafeLine(cmp.Or(strings.ReplaceAll(c.New, "_", " "), "(none)")), Reason: notify.SafeLine(c.Reason),
		})
	}
	out.Attachments = d.attachments(number, i, e.Source != nil, e.Attachments)
	return out
}

// attachments lists a mail's attachments, with a download link where the
// original can be fetched.
func (d *dashboard) attachments(number string, mailIdx int, hasOriginal bool, as []ticket.Attachment) []pageAttachment {
	var out []pageAttachment
	for _, a := range as {
		pa := pageAttachment{
			Name: cmp.Or(notify.SafeLine(a.Name), "(no name)"), Type: notify.SafeLine(a.Type),
			Size: humanSize(a.Size), Inline: a.Inline,
		}
		if hasOriginal && d.pages.Originals != nil && d.pages.Extract != nil {
			pa.URL = fmt.Sprintf("%s%s/mail/%d/part/%d", TicketPath, url.PathEscape(number), mailIdx, a.Part)
		}
		out = append(out, pa)
	}
	return out
}

// fromText is "Name <addr>", or whichever of the two there is.
func fromText(name, addr string) string {
	name, addr = notify.SafeLine(name), notify.SafeLine(addr)
	switch {
	case name != "" && addr != "" && name != addr:
		return name + " <" + addr + ">"
	case name != "":
		return name
	}
	return addr
}

// humanSize writes a size as people read it: "512 bytes", "1.4 MB".
func humanSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1000)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1000*1000))
}

// postTicketAction handles the page's forms: the last path element says
// which.
func (d *dashboard) postTicketAction(w http.ResponseWriter, r *http.Request) {
	number := strings.ToUpper(r.PathValue("number"))
	action := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := r.ParseForm(); err != nil {
		d.writeTicket(w, r, http.StatusBadRequest, number, "", "The form could not be read: "+err.Error(), actionForms{})
		return
	}
	v := r.PostForm
	key := v.Get("key")
	forms := actionForms{Reply: v.Get("message"), ReplyStatus: v.Get("status"), Note: v.Get("note"), Reason: v.Get("reason"), Assignee: v.Get("assignee"),
		Duration: v.Get("duration"), Activity: v.Get("activity"), TimeNote: v.Get("time_note")}
	if !workflow.ValidKey(key) {
		d.writeTicket(w, r, http.StatusBadRequest, number, "", "The form was incomplete; please check it and send it again.", forms)
		return
	}
	by := agent(r)
	// Keys are per agent, as an API client's are per token; the action is
	// part of the key, so that one form's key cannot stand for another's.
	scoped := by.Name + " page " + action + " " + key
	var err error
	done := action
	switch action {
	case "reply":
		forms.ReplyKey = key
		status := v.Get("status")
		if status != "" && status != ticket.StatusWaitingCustomer && status != ticket.StatusResolved {
			err = fmt.Errorf("%w: a reply leaves the ticket in progress, waiting for the customer or resolved", workflow.ErrInvalid)
			break
		}
		err = d.pages.Workflow.ReplyRequest(r.Context(), number, by, v.Get("message"), status, scoped)
	case "note":
		forms.NoteKey = key
		err = d.pages.Workflow.NoteRequest(r.Context(), number, by, v.Get("note"), scoped)
	case "set":
		forms.SetKey = key
		var t *ticket.Ticket
		if t, err = d.pages.Tickets.Get(r.Context(), number); err != nil {
			break
		}
		// The form shows every field: only what differs from the ticket
		// now is a change.
		var c workflow.Change
		if s := v.Get("status"); s != t.Status {
			c.Status = s
		}
		if p := v.Get("priority"); p != t.Priority {
			c.Priority, c.Reason = p, v.Get("reason")
		}
		if typ := config.TypeKey(v.Get("type")); typ != "" && typ != t.Type {
			c.Type = typ
		}
		if a := strings.TrimSpace(v.Get("assignee")); a != t.Assignee {
			c.Assignee = &a
		}
		if c == (workflow.Change{}) {
			done = "same"
			break
		}
		_, err = d.pages.Workflow.SetRequest(r.Context(), number, by, c, scoped)
	case "time":
		forms.TimeKey = key
		var e workflow.TimeEntry
		if e.Duration, err = workflow.ParseDuration(v.Get("duration")); err != nil {
			err = fmt.Errorf("%w: duration: %w", workflow.ErrInvalid, err)
			break
		}
		e.Activity, e.Note, e.Via = strings.TrimSpace(v.Get("activity")), strings.TrimSpace(v.Get("time_note")), workflow.ViaPage
		if v.Get("nobill") != "" {
			no := false
			e.Billable = &no
		}
		_, _, err = d.pages.Workflow.RecordTimeRequest(r.Context(), number, by, e, scoped)
	case "links":
		forms.LinksKey = key
		if d.pages.Links == nil {
			err = fmt.Errorf("%w: this desk gives no status links", workflow.ErrInvalid)
			break
		}
		var n int
		if n, err = d.pages.Links.Revoke(r.Context(), number); err != nil {
			break
		}
		d.log.Info("status links revoked", "ticket", number, "agent", by.String(), "links", n)
		// In the history, with the agent's name, as every action is (an
		// internal note: the customer's side is not told).
		err = d.pages.Workflow.NoteRequest(r.Context(), number, by, fmt.Sprintf("Revoked the status links of the customer's side (%d).", n), scoped)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		code := statusOf(err)
		msg := err.Error()
		switch {
		case code == http.StatusNotFound:
			d.ticketError(w, r, err)
			return
		case errors.Is(err, ticket.ErrConflict):
			msg = "The ticket changed while you were looking at it: check it below and send the form again."
		case errors.Is(err, workflow.ErrKeyReused):
			msg = "This form was sent before. Check the ticket below and send it again if you meant to."
		case code == http.StatusInternalServerError:
			d.log.Error("ticket page action failed", "ticket", number, "action", action, "agent", by.String(), "err", err)
			msg = "That could not be done right now; the daemon's log has the details. Please try again."
		}
		// The form comes back as it was, with its key: sending it again
		// after a failure that did act (a lost answer) still acts once.
		d.writeTicket(w, r, code, number, "", msg, forms)
		return
	}
	http.Redirect(w, r, TicketPath+url.PathEscape(number)+"?done="+done+"#history", http.StatusSeeOther)
}

// ticketError answers a request for a ticket that could not be read.
func (d *dashboard) ticketError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := statusOf(err), "This ticket cannot be read right now; please try again."
	if code == http.StatusNotFound {
		msg = "There is no such ticket."
	} else {
		code = http.StatusServiceUnavailable
		d.log.Error("ticket page", "path", r.URL.Path, "err", err)
	}
	d.render(w, r, code, ticketTmpl, ticketPage{Desk: notify.SafeLine(d.desk), Error: msg, Links: -1}, pageCSP)
}

// maxPageHint bounds dashboard.pageSize: a freak page does not make every
// later one allocate as much.
const maxPageHint = 4 << 20

// render writes a page from tmpl with the headers every page has.
func (d *dashboard) render(w http.ResponseWriter, r *http.Request, code int, tmpl *template.Template, data any, csp string) {
	var buf bytes.Buffer
	buf.Grow(int(d.pageSize.Load()))
	if err := tmpl.Execute(&buf, data); err != nil {
		d.log.Error("rendering a page", "template", tmpl.Name(), "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	if n := int64(buf.Len()); n > d.pageSize.Load() && n <= maxPageHint {
		d.pageSize.Store(n)
	}
	writePage(w, r, code, buf.Bytes(), csp)
}

// writePage writes an HTML page with the headers every page has; a HEAD
// request gets the headers only.
func writePage(w http.ResponseWriter, r *http.Request, code int, body []byte, csp string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", csp)
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// serveAttachment streams one attachment out of the original mail in the
// mailbox: mail 0 is the mail that made the ticket, mail i its i-th event.
func (d *dashboard) serveAttachment(w http.ResponseWriter, r *http.Request) {
	mailIdx, err1 := strconv.Atoi(r.PathValue("mail"))
	part, err2 := strconv.Atoi(r.PathValue("part"))
	if err1 != nil || err2 != nil || mailIdx < 0 || part < 1 || d.pages.Originals == nil || d.pages.Extract == nil {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), attachmentTimeout)
	defer cancel()
	t, err := d.pages.Tickets.Get(ctx, r.PathValue("number"))
	if err != nil {
		d.ticketError(w, r, err)
		return
	}
	src, msgID, as := t.Source, t.MessageID, t.Attachments
	has := t.Channel == ticket.ChannelMail
	if mailIdx > 0 {
		events, err := d.pages.Tickets.Events(ctx, t.Number)
		if err != nil {
			d.ticketError(w, r, err)
			return
		}
		if mailIdx > len(events) {
			http.NotFound(w, r)
			return
		}
		e := events[mailIdx-1]
		has, msgID, as = e.Source != nil, e.MessageID, e.Attachments
		if e.Source != nil {
			src = *e.Source
		}
	}
	i := slices.IndexFunc(as, func(a ticket.Attachment) bool { return a.Part == part })
	if !has || i < 0 {
		http.NotFound(w, r)
		return
	}
	a := as[i]
	log := d.log.With("ticket", t.Number, "message_id", msgID, "part", part, "agent", agent(r).Name)
	out := &lazyWriter{w: w, start: func(h http.Header) { attachmentHeaders(h, a) }}
	sum, err := streamAttachment(ctx, d.pages.Originals, d.pages.Extract, src, msgID, part, out)
	if err == nil && sum != a.SHA256 && a.SHA256 != "" {
		err = fmt.Errorf("the attachment in the mailbox is not the one recorded (SHA-256 %s, recorded %s)", sum, a.SHA256)
	}
	switch {
	case err == nil:
		out.begin() // an empty attachment has had no write
	case !out.started:
		log.Warn("attachment not served", "err", err)
		d.render(w, r, http.StatusBadGateway, ticketTmpl, ticketPage{Desk: notify.SafeLine(d.desk), Links: -1,
			Error: "The attachment could not be fetched from the mailbox right now (the daemon's log says why). Please try again."}, pageCSP)
	default:
		// Half sent: break the connection, so that the browser reports a
		// failed download rather than keep a wrong or short file.
		log.Error("attachment download broken off", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// streamAttachment pipes the original of a mail from the mailbox through
// extract into out, and returns the attachment's SHA-256.
func streamAttachment(ctx context.Context, o Originals, extract Extractor, src ticket.Source, msgID string, part int, out io.Writer) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	fetched := make(chan error, 1)
	go func() {
		err := o.Raw(ctx, src, msgID, pw)
		pw.CloseWithError(cmp.Or(err, io.EOF))
		fetched <- err
	}()
	sum, err := extract(pr, part, out)
	// Whatever extract left unread: the fetch stops.
	pr.CloseWithError(errors.New("attachment read"))
	if ferr := <-fetched; ferr != nil && err == nil {
		err = ferr
	}
	return sum, err
}

// attachmentHeaders: a download, never shown by the browser, whatever the
// mail declared; and should a browser show it anyway, it runs nothing.
func attachmentHeaders(h http.Header, a ticket.Attachment) {
	h.Set("Content-Type", downloadType(a.Type))
	// What no file system takes, or a shell would read, becomes "_".
	name := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`<>:"/\|?*`, r) {
			return '_'
		}
		return r
	}, notify.SafeLine(a.Name))
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": cmp.Or(name, "attachment")})
	if disp == "" {
		disp = "attachment"
	}
	h.Set("Content-Disposition", disp)
	h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Referrer-Policy", "no-referrer")
}

// downloadType is the media type an attachment is served with: as declared
// unless it is one a browser might render as a page or run.
func downloadType(declared string) string {
	mt, _, err := mime.ParseMediaType(declared)
	if err != nil || !strings.Contains(mt, "/") {
		return "application/octet-stream"
	}
	for _, risky := range []string{"html", "xml", "script", "svg", "xsl"} {
		if strings.Contains(mt, risky) {
			return "application/octet-stream"
		}
	}
	return mt
}

// lazyWriter writes the response's headers with its first byte, so that
// a failure before any byte can still become an error page.
type lazyWriter struct {
	w       http.ResponseWriter
	start   func(http.Header)
	started bool
}

func (l *lazyWriter) begin() {
	if !l.started {
		l.started = true
		l.start(l.w.Header())
		l.w.WriteHeader(http.StatusOK)
	}
}

func (l *lazyWriter) Write(b []byte) (int, error) {
	l.begin()
	return l.w.Write(b)
}

// minutesText writes minutes as agents write durations: "1h30m", "45m".
func minutesText(m int) string {
	if m >= 60 && m%60 == 0 {
		return fmt.Sprintf("%dh", m/60)
	}
	if m >= 60 {
		return fmt.Sprintf("%dh%02dm", m/60, m%60)
	}
	return fmt.Sprintf("%dm", m)
}
