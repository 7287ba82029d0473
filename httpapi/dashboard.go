package httpapi

import (
	"cmp"
	"context"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

// TicketLister is where the dashboard reads tickets from; *ticket.Store
// satisfies it. The dashboard shows the open tickets and reads no others.
type TicketLister interface {
	OpenTickets(ctx context.Context) ([]ticket.Ticket, error)
}

// DashboardRefresh is how often the page reloads itself (a meta refresh,
// so the page needs no JavaScript).
const DashboardRefresh = 30 * time.Second

// dashboardTimeout bounds one read of the tickets.
const dashboardTimeout = 10 * time.Second

//go:embed templates/dashboard.html
var dashboardFS embed.FS

var dashboardTmpl = template.Must(template.New("dashboard.html").Funcs(pageFuncs).ParseFS(dashboardFS, "templates/dashboard.html"))

// Clock states of a ticket on the dashboard; each is a CSS class of its bar.
const (
	clockBreached = "breached" // first response overdue: red
	clockWarning  = "warning"  // past the warning time: amber
	clockOK       = "ok"       // running, in time: green
	clockPaused   = "paused"   // waiting for the customer
	clockAnswered = "answered" // first response given
	clockNone     = "none"     // no SLA (feature request, plan without calendar)
)

// rank orders the states: what needs attention first.
var clockRank = map[string]int{clockBreached: 0, clockWarning: 1, clockOK: 2, clockPaused: 3, clockAnswered: 4, clockNone: 5}

// NewDashboard returns the dashboard page: the open tickets per customer
// with priority, age and the first-response clock, breached first. It
// serves GET (and HEAD) of "/" only. customer names customer ids (nil or
// a nil result shows the id); now is the clock (time.Now when nil); times
// are shown in loc (time.Local when nil).
//
// It does no authentication: mount it behind the API's token check.
func NewDashboard(tickets TicketLister, customer func(string) *config.Customer, deskName string, now func() time.Time, loc *time.Location, opts ...DashboardOption) http.Handler {
	d := &dashboard{tickets: tickets, customer: customer, desk: deskName, now: now, loc: loc}
	for _, o := range opts {
		o(d)
	}
	d.setDefaults()
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", d)
	if d.opener != nil {
		mux.HandleFunc("GET "+OpenPath, d.serveOpenForm)
		mux.HandleFunc("POST "+OpenPath, d.postOpenForm)
	}
	if d.pages != nil {
		d.routeTicketPages(mux)
	}
	return mux
}

type dashboard struct {
	tickets  TicketLister
	customer func(string) *config.Customer
	desk     string
	now      func() time.Time
	loc      *time.Location
	plans    map[string]config.Plan
	lang     string
	// opener and directory serve the form for a ticket taken by phone
	// (WithOpenForm); nil: no form.
	opener    Opener
	directory func() []config.Customer
	// pages serve a page per ticket (WithTicketPages); nil: none.
	pages *TicketPages
	// log is the ticket pages' Log, else slog.Default().
	log *slog.Logger
	// pageSize is the largest page rendered so far: the next render's
	// buffer starts that big instead of doubling its way up to it.
	pageSize atomic.Int64
}

// setDefaults fills in what NewDashboard's caller left out: the clock
// (time.Now), the time zone (time.Local) and the log.
func (d *dashboard) setDefaults() {
	if d.now == nil {
		d.now = time.Now
	}
	d.loc = cmp.Or(d.loc, time.Local)
	d.log = slog.Default()
	if d.pages != nil && d.pages.Log != nil {
		d.log = d.pages.Log
	}
}

// DashboardOption configures NewDashboard.
type DashboardOption func(*dashboard)

// WithPriorityLabels makes the dashboard show each ticket's priority in
// its customer's plan's words (plans.<plan>.priority_labels), in lang (the
// desk's language), else in the ticket's language; the code stays in the
// cell's title and decides the order. Tickets on plans with support types
// (plans.<plan>.types) show their type's name in lang too.
func WithPriorityLabels(plans map[string]config.Plan, lang string) DashboardOption {
	return func(d *dashboard) { d.plans, d.lang = plans, lang }
}

// priorityLabel is the plan's word for t's priority, "" when it has none.
func (d *dashboard) priorityLabel(t *ticket.Ticket) string {
	if d.plans == nil || t.Priority == "" {
		return ""
	}
	var c *config.Customer
	if d.customer != nil {
		c = d.customer(t.Customer)
	}
	return cmp.Or(config.PriorityLabel(d.plans, c, d.lang, t.Priority), config.PriorityLabel(d.plans, c, t.Language, t.Priority))
}

// typeName is the plan's name for t's type, "" on a plan without support
// types (whose tickets on the dashboard are all incidents).
func (d *dashboard) typeName(t *ticket.Ticket) string {
	p := d.plan(t)
	if len(p.Types) == 0 {
		return ""
	}
	return p.TypeName(d.lang, t.Type)
}

// plan is the configuration of t's customer's plan.
func (d *dashboard) plan(t *ticket.Ticket) config.Plan {
	var c *config.Customer
	if d.customer != nil {
		c = d.customer(t.Customer)
	}
	return d.plans[c.PlanName()]
}

// dashPage is what the template renders.
type dashPage struct {
	Desk       string
	Refresh    int // seconds
	Updated    string
	UpdatedISO string
	Zone       string
	Open       int
	AtRisk     int
	Breached   int
	// NeedsAgent are the tickets marked as needing an agent (whatever
	// their status: a closed feature request the customer replied on),
	// longest waiting first; the page shows them above everything else.
	NeedsAgent []dashAttention
	Groups     []dashGroup
	Error      string
	// OpenPath links to the form for a ticket taken by phone; "" for none.
	OpenPath string
	// TicketLinks: each ticket links to its page (WithTicketPages).
	TicketLinks bool
	// Filters is the filter form (dashboard_filter.go); FeatureReplies
	// how many of NeedsAgent are replies on closed feature requests.
	Filters        dashFilters
	FeatureReplies int
}

// dashAttention is a ticket in the "Needs an agent" list.
type dashAttention struct {
	Number   string
	Subject  string
	Customer string
	Contact  string
	Why      string // what the agent is to judge
	Age      string // how long it has waited: "2h", "1d 3h"
	// SinceText and SinceISO are when the customer's reply arrived.
	SinceText string
	SinceISO  string

	since time.Time
}

type dashGroup struct {
	ID       string
	Name     string
	Open     int
	AtRisk   int
	Breached int
	Rows     []dashRow
}

type dashRow struct {
	Number   string
	Subject  string
	Priority string
	// PriorityLabel is the plan's word for Priority; "" = none.
	PriorityLabel string
	// Type is the name of the ticket's support type; "" on plans without.
	Type    string
	Status  string
	Contact string
	// Channel is how a ticket an agent opened came in ("phone", "in
	// person"); "" for mail.
	Channel string
	// URL is the ticket's page (WithTicketPages); "" without.
	URL         string
	Assignee    string
	Age         string
	CreatedText string
	CreatedISO  string
	State       string // one of the clock* constants, the bar's CSS class
	Clock       string // the bar's text equivalent: "2h 10m left", "overdue 35m", ...
	DueText     string // the first-response deadline in the desk's zone, "" for none
	DueISO      string
	Pct         int // bar width, 0-100

	due      time.Time
	created  time.Time
	customer string // the ticket's customer id: its group
}

func (d *dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), dashboardTimeout)
	defer cancel()
	now := d.now()
	code := http.StatusOK
	list, err := d.tickets.OpenTickets(ctx)
	var page dashPage
	if err != nil {
		// Still a page that refreshes itself: a screen on the wall
		// recovers by itself once Redis is back.
		code = http.StatusServiceUnavailable
		page = dashPage{Error: "The tickets cannot be read right now; this page tries again by itself."}
	} else {
		var filters dashFilters
		list, filters = d.filter(list, filterFrom(r.URL.Query()))
		page = d.build(list, now)
		page.Filters = filters
	}
	page.Desk = notify.SafeLine(d.desk)
	page.Refresh = int(DashboardRefresh / time.Second)
	page.Updated = now.In(d.loc).Format("Mon 2 Jan 15:04:05")
	page.UpdatedISO = now.UTC().Format(time.RFC3339)
	page.Zone = zoneName(d.loc, now)
	if d.opener != nil {
		page.OpenPath = OpenPath
	}
	page.TicketLinks = d.pages != nil

	d.render(w, r, code, dashboardTmpl, page, pageCSP)
}

// build groups the open tickets by customer, most urgent first.
func (d *dashboard) build(list []ticket.Ticket, now time.Time) dashPage {
	var page dashPage
	// One slice of rows, sorted by customer: the groups are runs of it
	// (a thousand rows a refresh, no growing per customer).
	rows := make([]dashRow, 0, len(list))
	for i := range list {
		t := &list[i]
		if t.NeedsAgentSince != nil {
			page.NeedsAgent = append(page.NeedsAgent, d.attention(t, now))
			if t.Type == ticket.TypeFeatureRequest && t.Status == ticket.StatusClosed {
				page.FeatureReplies++
			}
		}
		if ticket.Open(t.Status) {
			rows = append(rows, d.row(t, now))
			rows[len(rows)-1].customer = t.Customer
		}
	}
	slices.SortFunc(page.NeedsAgent, func(a, b dashAttention) int {
		return cmp.Or(a.since.Compare(b.since), cmp.Compare(a.Number, b.Number))
	})
	slices.SortFunc(rows, func(a, b dashRow) int { return cmp.Or(strings.Compare(a.customer, b.customer), compareRows(a, b)) })
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j].customer == rows[i].customer {
			j++
		}
		g := dashGroup{ID: rows[i].customer, Name: d.customerName(rows[i].customer), Rows: rows[i:j:j], Open: j - i}
		for k := range g.Rows {
			switch g.Rows[k].State {
			case clockBreached:
				g.Breached++
			case clockWarning:
				g.AtRisk++
			}
		}
		page.Open += g.Open
		page.Breached += g.Breached
		page.AtRisk += g.AtRisk
		page.Groups = append(page.Groups, g)
		i = j
	}
	// Customers with breached tickets first, then by their most urgent
	// ticket (so at-risk customers come next), then by name.
	slices.SortFunc(page.Groups, func(a, b dashGroup) int {
		if c := cmp.Compare(min(b.Breached, 1), min(a.Breached, 1)); c != 0 {
			return c
		}
		if c := compareRows(a.Rows[0], b.Rows[0]); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), strings.Compare(a.ID, b.ID))
	})
	return page
}

// compareRows: breached first, then running clocks by deadline, then
// paused, answered and tickets without SLA, oldest first.
func compareRows(a, b dashRow) int {
	if c := cmp.Compare(clockRank[a.State], clockRank[b.State]); c != 0 {
		return c
	}
	if c := a.due.Compare(b.due); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
		return c
	}
	if c := a.created.Compare(b.created); c != 0 {
		return c
	}
	return cmp.Compare(a.Number, b.Number)
}

func (d *dashboard) row(t *ticket.Ticket, now time.Time) dashRow {
	// html/template escapes markup, not control and format characters: a
	// subject's bidi override would turn its row around, its escapes would
	// reach a terminal reading the page.
	r := dashRow{
		Number:   shown(t.Number),
		Subject:  cmp.Or(shown(t.Subject), "(no subject)"),
		Priority: shown(t.Priority),
		// The contract's words (WithPriorityLabels); the code decides the
		// order and stays in the cell's title.
		PriorityLabel: shown(d.priorityLabel(t)),
		Type:          shown(d.typeName(t)),
		Status:        shown(statusText(t.Status)),
		Contact:       shown(cmp.Or(t.ContactName, t.Contact)),
		Assignee:      shown(t.Assignee),
		created:       t.CreatedAt,
	}
	if t.Channel != "" && t.Channel != ticket.ChannelMail {
		r.Channel = shown(strings.ReplaceAll(t.Channel, "_", " "))
	}
	if d.pages != nil {
		r.URL = TicketPath + url.PathEscape(t.Number)
	}
	if !t.CreatedAt.IsZero() {
		r.Age = compact(now.Sub(t.CreatedAt), 2, true)
		r.CreatedText = t.CreatedAt.In(d.loc).Format("Mon 2 Jan 2006 15:04")
		r.CreatedISO = t.CreatedAt.UTC().Format(time.RFC3339)
	}
	c := t.SLA
	if c == nil || c.FirstResponseDue.IsZero() {
		r.State, r.Clock = clockNone, "no SLA"
		return r
	}
	r.due = c.FirstResponseDue
	// The bar is the share of Start -> FirstResponseDue elapsed in wall
	// time. The deadline itself counts business hours, so over a night
	// or a weekend the bar moves faster than the clock really runs: good
	// enough for a display, and the text says what is left exactly.
	at := now
	switch {
	case !c.RespondedAt.IsZero():
		at = c.RespondedAt
		r.State, r.Clock = clockAnswered, "answered"
		if c.RespondedAt.After(c.FirstResponseDue) {
			r.Clock = "answered late"
		}
	case !c.PausedAt.IsZero():
		at = c.PausedAt
		r.State, r.Clock = clockPaused, "paused"
	case !now.Before(c.FirstResponseDue):
		r.State, r.Clock = clockBreached, "overdue "+compact(now.Sub(c.FirstResponseDue), 2, false)
	case !c.WarnAt.IsZero() && !now.Before(c.WarnAt):
		r.State, r.Clock = clockWarning, compact(c.FirstResponseDue.Sub(now), 2, false)+" left"
	default:
		r.State, r.Clock = clockOK, compact(c.FirstResponseDue.Sub(now), 2, false)+" left"
	}
	r.Pct = share(c.Start, c.FirstResponseDue, at)
	if r.State != clockPaused && r.State != clockAnswered {
		// A paused clock's deadline moves when it resumes; an answered
		// one's no longer matters.
		r.DueText = d.when(c.FirstResponseDue, now)
		r.DueISO = c.FirstResponseDue.UTC().Format(time.RFC3339)
	}
	return r
}

// attention is t's entry in the "Needs an agent" list.
func (d *dashboard) attention(t *ticket.Ticket, now time.Time) dashAttention {
	since := *t.NeedsAgentSince
	why := "The customer replied; an agent should look at it."
	if t.Type == ticket.TypeFeatureRequest && t.Status == ticket.StatusClosed {
		why = "The customer replied on this closed feature request: is it one?"
	}
	return dashAttention{
		Number:    shown(t.Number),
		Subject:   cmp.Or(shown(t.Subject), "(no subject)"),
		Customer:  d.customerName(t.Customer),
		Contact:   shown(cmp.Or(t.ContactName, t.Contact)),
		Why:       why,
		Age:       compact(now.Sub(since), 2, true),
		SinceText: since.In(d.loc).Format("Mon 2 Jan 2006 15:04"),
		SinceISO:  since.UTC().Format(time.RFC3339),
		since:     since,
	}
}

// share is the percentage of start -> end elapsed at `at`, 0-100.
func share(start, end, at time.Time) int {
	if start.IsZero() || !end.After(start) {
		if at.Before(end) {
			return 0
		}
		return 100
	}
	p := int(100 * at.Sub(start) / end.Sub(start))
	return max(0, min(100, p))
}

// compact writes d with at most units units: "2d 4h", "2h 10m", "35m".
// With coarse, under a day it gives hours only ("3h") as an age does;
// less than a minute is "0m" (coarse) or "<1m".
func compact(d time.Duration, units int, coarse bool) string {
	d = max(d, 0)
	if d < time.Minute {
		if coarse {
			return "0m"
		}
		return "<1m"
	}
	days := int(d / (24 * time.Hour))
	hours := int(d % (24 * time.Hour) / time.Hour)
	mins := int(d % time.Hour / time.Minute)
	if coarse && days == 0 && hours > 0 {
		mins = 0
	}
	var parts []string
	for _, p := range []struct {
		n    int
		unit string
	}{{days, "d"}, {hours, "h"}, {mins, "m"}} {
		if len(parts) == units {
			break
		}
		if p.n > 0 || len(parts) > 0 {
			parts = append(parts, strconv.Itoa(p.n)+p.unit)
		}
	}
	// "2d 0h" reads worse than "2d".
	for len(parts) > 1 && strings.HasPrefix(parts[len(parts)-1], "0") {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, " ")
}

// when writes a time in the desk's zone as short as it stays clear: "14:20"
// today, "Tue 09:30" within a few days, "2 Dec 09:30" otherwise.
func (d *dashboard) when(t, now time.Time) string {
	t, now = t.In(d.loc), now.In(d.loc)
	switch {
	case t.Year() == now.Year() && t.YearDay() == now.YearDay():
		return t.Format("15:04")
	case t.Sub(now).Abs() < 6*24*time.Hour:
		return t.Format("Mon 15:04")
	default:
		return t.Format("2 Jan 15:04")
	}
}

// statusText is a status as people write it.
func statusText(s string) string {
	if s == ticket.StatusWaitingCustomer {
		return "waiting for customer"
	}
	return strings.ReplaceAll(s, "_", " ")
}

func (d *dashboard) customerName(id string) string {
	if d.customer != nil {
		if c := d.customer(id); c != nil && shown(c.Name) != "" {
			return shown(c.Name)
		}
	}
	if id == "" {
		return "(no customer)"
	}
	return shown(id)
}

// shown is notify.SafeLine, returning at once text it would leave as it is
// (printable ASCII with single spaces inside): a refresh passes a thousand
// rows' subjects, names and codes through it.
func shown(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == ' ' && (i == 0 || i == len(s)-1 || s[i-1] == ' ') {
			return notify.SafeLine(s)
		}
	}
	return s
}

// zoneName is the location's name and, when it differs, the abbreviation
// in force at t: "Europe/Amsterdam (CET)".
func zoneName(loc *time.Location, t time.Time) string {
	abbr, _ := t.In(loc).Zone()
	name := loc.String()
	if name == "Local" || name == abbr {
		return abbr
	}
	return name + " (" + abbr + ")"
}
