package httpapi

// The dashboard's form for a ticket taken by phone or in person ("Wij nemen
// uw melding dan aan en maken hier direct een ticket van"): a page of its
// own, since the dashboard reloads itself and would wipe a half-filled
// form. It posts to itself; no JavaScript. It sits behind RequireToken like
// the dashboard, whose cross-origin protection refuses a post from a page of
// another site (CSRF); the agent is the token's name.

import (
	"cmp"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// OpenPath is where the form is served (GET) and posted to (POST).
const OpenPath = "/tickets/new"

// Opener opens a ticket for a request an agent took (workflow.Service).
type Opener interface {
	Open(ctx context.Context, by workflow.Agent, o workflow.Opening, key string) (*ticket.Ticket, bool, error)
}

// WithOpenForm serves the form at OpenPath and links to it from the
// dashboard: it opens tickets through o, offering the customers and
// contacts that customers lists (the directory in use).
func WithOpenForm(o Opener, customers func() []config.Customer) DashboardOption {
	return func(d *dashboard) { d.opener, d.directory = o, customers }
}

//go:embed templates/open.html
var openFS embed.FS

var openTmpl = template.Must(template.ParseFS(openFS, "templates/open.html"))

// openPage is what templates/open.html renders.
type openPage struct {
	Desk       string
	Zone       string
	Opened     string // the number of the ticket just opened
	Error      string
	Customers  []openChoice
	Contacts   []openChoice
	Channels   []openChoice
	Types      []openChoice
	Priorities []string
	Form       openForm
}

type openChoice struct {
	Value, Label string
	Selected     bool
}

// openForm is what the agent entered, shown again with an error.
type openForm struct {
	Customer, Contact, Subject, Message, Priority, Type, Channel, At string
	// Key makes a double submission one ticket: the form's idempotency
	// key, new with every empty form.
	Key string
}

// openedRE is what a ticket number looks like; anything else in ?opened=
// is not shown, so that a link cannot make the page say something else.
var openedRE = regexp.MustCompile(`^[A-Za-z0-9]{1,20}-[0-9]{1,12}$`)

func (d *dashboard) serveOpenForm(w http.ResponseWriter, r *http.Request) {
	f := openForm{Channel: ticket.ChannelPhone, Type: ticket.TypeIncident, Key: rand.Text()}
	opened := r.URL.Query().Get("opened")
	if !openedRE.MatchString(opened) {
		opened = ""
	}
	d.writeOpenForm(w, r, http.StatusOK, f, opened, "")
}

func (d *dashboard) postOpenForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := r.ParseForm(); err != nil {
		d.writeOpenForm(w, r, http.StatusBadRequest, openForm{Key: rand.Text()}, "", "The form could not be read: "+err.Error())
		return
	}
	v := r.PostForm
	f := openForm{
		Customer: v.Get("customer"), Contact: strings.TrimSpace(v.Get("contact")), Subject: v.Get("subject"),
		Message: v.Get("message"), Priority: v.Get("priority"), Type: v.Get("type"), Channel: v.Get("channel"),
		At: strings.TrimSpace(v.Get("at")), Key: v.Get("key"),
	}
	if !workflow.ValidKey(f.Key) {
		f.Key = rand.Text()
		d.writeOpenForm(w, r, http.StatusBadRequest, f, "", "The form was incomplete; please check it and open the ticket again.")
		return
	}
	o := workflow.Opening{Customer: f.Customer, Contact: f.Contact, Subject: f.Subject, Message: f.Message,
		Priority: f.Priority, Type: f.Type, Channel: f.Channel}
	if f.At != "" {
		at, err := workflow.ParseAt(f.At, d.loc, d.now())
		if err != nil {
			d.writeOpenForm(w, r, http.StatusBadRequest, f, "", "Time of the call: "+err.Error())
			return
		}
		o.At = at
	}
	by := agent(r)
	t, _, err := d.opener.Open(r.Context(), by, o, by.Name+" "+f.Key)
	if err != nil {
		code := statusOf(err)
		msg := err.Error()
		switch {
		case errors.Is(err, workflow.ErrKeyReused):
			// Submitted once already, changed since: a new ticket is meant.
			f.Key = rand.Text()
			msg = "This form was already used to open a ticket. Check the details and open again for a new ticket."
		case errors.Is(err, workflow.ErrUnavailable):
			msg = "The desk is checking its records after a database restart; no ticket was opened. Please try again in a minute."
		case code == http.StatusInternalServerError:
			msg = "The ticket could not be opened right now; the daemon's log has the details. Please try again."
		}
		d.writeOpenForm(w, r, code, f, "", msg)
		return
	}
	// After a post, a redirect: reloading the page asks nothing again.
	http.Redirect(w, r, OpenPath+"?opened="+url.QueryEscape(t.Number), http.StatusSeeOther)
}

// typeChoices are the types the form offers: the contact's plan's default
// first, then every type some plan has, named in the desk's language. The
// workflow refuses one the contact's plan lacks, listing the plan's.
func (d *dashboard) typeChoices(selected string) []openChoice {
	out := []openChoice{{Value: "", Label: "the plan's default", Selected: selected == ""}}
	seen := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(d.plans)) {
		plan := d.plans[name]
		for _, typ := range plan.TypeNames() {
			if seen[typ] {
				continue
			}
			seen[typ] = true
			label := typ
			if n := plan.TypeName(d.lang, typ); n != "" && n != typ {
				label = n + " (" + typ + ")"
			}
			out = append(out, openChoice{Value: typ, Label: notify.SafeLine(label), Selected: typ == selected})
		}
	}
	if len(seen) == 0 { // no plans configured: the built-in types
		for _, typ := range []string{config.TypeIncident, config.TypeFeatureRequest} {
			out = append(out, openChoice{Value: typ, Label: typ, Selected: typ == selected})
		}
	}
	return out
}

func (d *dashboard) writeOpenForm(w http.ResponseWriter, r *http.Request, code int, f openForm, opened, errMsg string) {
	now := d.now()
	page := openPage{
		Desk: notify.SafeLine(d.desk), Zone: zoneName(d.loc, now), Opened: opened, Error: notify.SafeText(errMsg), Form: f,
		Types: d.typeChoices(f.Type), Priorities: config.Priorities,
	}
	for _, c := range ticket.AgentChannels {
		page.Channels = append(page.Channels, openChoice{Value: c, Label: strings.ReplaceAll(c, "_", " "), Selected: c == cmp.Or(f.Channel, ticket.ChannelPhone)})
	}
	var customers []config.Customer
	if d.directory != nil {
		customers = d.directory()
	}
	slices.SortFunc(customers, func(a, b config.Customer) int {
		return cmp.Or(strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), strings.Compare(a.ID, b.ID))
	})
	for _, c := range customers {
		name := cmp.Or(notify.SafeLine(c.Name), notify.SafeLine(c.ID))
		page.Customers = append(page.Customers, openChoice{Value: c.ID, Label: name, Selected: c.ID == f.Customer})
		for _, ct := range c.Contacts {
			label := name
			if n := notify.SafeLine(ct.Name); n != "" {
				label = n + ", " + name
			}
			page.Contacts = append(page.Contacts, openChoice{Value: ct.Email, Label: label})
		}
	}
	d.render(w, r, code, openTmpl, page, pageCSP)
}
