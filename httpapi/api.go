package httpapi

// The agent API: JSON under /api/v1, for agents' tools and scripts. It calls
// workflow for everything that changes a ticket, authz.Store for contacts
// and notify.Outbox's admin functions for outgoing mail, so that it behaves
// exactly like the CLI and agent mail. docs/openapi.yaml describes it; a
// test keeps that document and the route table below in step.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// APIPrefix is the path every API route starts with; mount the API there
// (Mount{Pattern: APIPrefix, Handler: api}).
const APIPrefix = "/api/v1/"

// MaxBody caps a request body.
const MaxBody = 1 << 20

// Tickets reads tickets (ticket.Store).
type Tickets interface {
	Get(ctx context.Context, number string) (*ticket.Ticket, error)
	// Find returns a page of tickets, newest first (ticket.Store.Find).
	Find(ctx context.Context, q ticket.Query) (ticket.Page, error)
	Events(ctx context.Context, number string) ([]ticket.Event, error)
	Rejections(ctx context.Context) ([]ticket.Rejection, error)
}

// Workflow is what agents do to tickets (workflow.Service).
type Workflow interface {
	ReplyRequest(ctx context.Context, number string, by workflow.Agent, text, status, key string) error
	Note(ctx context.Context, number string, by workflow.Agent, text string) error
	SetRequest(ctx context.Context, number string, by workflow.Agent, c workflow.Change, key string) (*ticket.Ticket, error)
	Open(ctx context.Context, by workflow.Agent, o workflow.Opening, key string) (*ticket.Ticket, bool, error)
}

// Contacts is the directory of customers and contacts (authz.Store).
type Contacts interface {
	Load(ctx context.Context) ([]config.Customer, int64, error)
	Info(ctx context.Context) (authz.Info, error)
	Version(ctx context.Context) (int64, error)
	Add(ctx context.Context, customerID string, c config.Contact, plans map[string]config.Plan) error
	Remove(ctx context.Context, email string) error
}

// Outbox is the operator's view of outgoing mail (notify.Outbox).
type Outbox interface {
	List(ctx context.Context) ([]notify.Entry, error)
	ListDead(ctx context.Context) ([]notify.Record, error)
	ListSkipped(ctx context.Context) ([]notify.Record, error)
	Retry(ctx context.Context, id string, unsuppress bool) (notify.Action, error)
	Drop(ctx context.Context, id, reason string) (notify.Action, error)
}

// People erases and exports a person's data (workflow.People).
type People interface {
	Erase(ctx context.Context, addr string, by workflow.Agent, reference string) (workflow.Erasure, error)
	Export(ctx context.Context, addr string) (workflow.PersonExport, error)
}

// APIConfig is what the API works with. All of Tickets, Workflow, Contacts
// and Outbox are required.
type APIConfig struct {
	Tickets  Tickets
	Workflow Workflow
	Contacts Contacts
	Outbox   Outbox
	// People erases and exports people's data; nil: those routes answer
	// 501.
	People People
	// Plans are the configured plans, against which contact edits are
	// validated (max contacts per customer).
	Plans map[string]config.Plan
	// Refresh, when set, runs before a contact edit (so that a changed
	// contacts file is imported first and the edit goes on top of it, as
	// with maildesk contacts add) and after one (so that this daemon uses
	// the edit at once). The daemon's refreshDirectory.
	Refresh func(ctx context.Context) error
	// Time and Statements serve time records and monthly statements
	// (httpapi/billing.go); nil: those routes answer 404.
	Time       TimeRecords
	Statements Statements
	// Tokens may use the API; none: open, as LocalAgent (loopback only,
	// which config validation enforces).
	Tokens []Token
	Log    *slog.Logger
}

// API serves /api/v1. It is an http.Handler for paths under APIPrefix.
type API struct {
	c       APIConfig
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []route
	handler http.Handler
}

// route is one entry of the route table: the mux and the OpenAPI test both
// read it.
type route struct {
	method, path string
	handle       func(w http.ResponseWriter, r *http.Request) error
}

// NewAPI returns the API over c.
func NewAPI(c APIConfig) *API {
	a := &API{c: c, log: c.Log, mux: http.NewServeMux()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.routes = []route{
		{"GET", "/api/v1/tickets", a.listTickets},
		{"POST", "/api/v1/tickets", a.openTicket},
		{"GET", "/api/v1/tickets/{number}", a.showTicket},
		{"PATCH", "/api/v1/tickets/{number}", a.setTicket},
		{"POST", "/api/v1/tickets/{number}/reply", a.reply},
		{"POST", "/api/v1/tickets/{number}/notes", a.note},
		{"GET", "/api/v1/tickets/{number}/time", a.showTime},
		{"POST", "/api/v1/tickets/{number}/time", a.recordTime},
		{"DELETE", "/api/v1/tickets/{number}/time/{id}", a.voidTime},
		{"PUT", "/api/v1/tickets/{number}/time/budget", a.setBudget},
		{"GET", "/api/v1/statements/{customer}/{month}", a.statement},
		{"GET", "/api/v1/contacts", a.listContacts},
		{"POST", "/api/v1/contacts", a.addContact},
		{"DELETE", "/api/v1/contacts/{email}", a.removeContact},
		{"POST", "/api/v1/people/erase", a.erasePerson},
		{"GET", "/api/v1/people/export", a.exportPerson},
		{"GET", "/api/v1/rejections", a.listRejections},
		{"GET", "/api/v1/outbox", a.listOutbox},
		{"POST", "/api/v1/outbox/{id}/retry", a.retryOutbox},
		{"DELETE", "/api/v1/outbox/{id}", a.dropOutbox},
	}
	for _, rt := range a.routes {
		a.mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) {
			if err := rt.handle(w, r); err != nil {
				a.fail(w, r, err)
			}
		})
	}
	a.handler = LogRequests(a.log, RequireToken(c.Tokens, http.HandlerFunc(a.route)))
	return a
}

// Routes lists the API's routes as "METHOD /path" (ServeMux patterns).
func (a *API) Routes() []string {
	out := make([]string, 0, len(a.routes))
	for _, rt := range a.routes {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// route dispatches r, answering unknown paths and methods in JSON too.
func (a *API) route(w http.ResponseWriter, r *http.Request) {
	if _, pattern := a.mux.Handler(r); pattern != "" {
		a.mux.ServeHTTP(w, r)
		return
	}
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
		return
	}
	writeError(w, http.StatusNotFound, "no such API path: "+r.URL.Path)
}

// agent is who acts: the request's token name.
func agent(r *http.Request) workflow.Agent {
	name, _ := AgentFrom(r.Context())
	if name == "" {
		name = LocalAgent
	}
	return workflow.Agent{Name: name}
}

// --- tickets ---

// ticketParams are the query parameters of GET /tickets. The filters
// (status, customer, contact, priority, assignee) may repeat: any of the
// values matches.
var ticketParams = []string{"status", "customer", "contact", "priority", "assignee", "open", "since", "q", "limit", "cursor"}

// Pages of GET /tickets: DefaultPageSize tickets unless limit says
// otherwise, at most MaxPageSize.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// NextCursorHeader carries the cursor of the next page (also in Link).
const NextCursorHeader = "X-Next-Cursor"

func (a *API) listTickets(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, ticketParams...); err != nil {
		return err
	}
	for _, s := range q["status"] {
		if !slices.Contains(ticket.Statuses, s) {
			return badRequest("unknown status %q (want one of %s)", s, strings.Join(ticket.Statuses, ", "))
		}
	}
	for _, p := range q["priority"] {
		if !slices.Contains([]string{"P1", "P2", "P3", "P4"}, p) {
			return badRequest("unknown priority %q (want P1, P2, P3 or P4)", p)
		}
	}
	tq := ticket.Query{Status: q["status"], Customer: q["customer"], Contact: q["contact"], Priority: q["priority"],
		Assignee: q["assignee"], Search: strings.TrimSpace(q.Get("q")), Cursor: q.Get("cursor"), Limit: DefaultPageSize}
	if v := q.Get("open"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("open must be true or false (got %q)", v)
		}
		tq.Open = &b
	}
	if v := q.Get("since"); v != "" {
		t, err := ParseSince(v, time.UTC, time.Now())
		if err != nil {
			return badRequest("since: %v", err)
		}
		tq.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return badRequest("limit must be a whole number from 1 to %d (got %q)", MaxPageSize, v)
		}
		tq.Limit = n
	}
	if len(tq.Search) > 200 {
		return badRequest("q is longer than 200 characters")
	}
	page, err := a.c.Tickets.Find(r.Context(), tq)
	if errors.Is(err, ticket.ErrBadCursor) {
		return badRequest("%v", err)
	}
	if err != nil {
		return err
	}
	if page.Next != "" {
		next := *r.URL
		nq := next.Query()
		nq.Set("cursor", page.Next)
		next.RawQuery = nq.Encode()
		w.Header().Set("Link", "<"+next.RequestURI()+`>; rel="next"`)
		w.Header().Set(NextCursorHeader, page.Next)
	}
	return writeJSON(w, http.StatusOK, page.Tickets)
}

// ParseSince reads a "since" of the API and the CLI: an RFC 3339 time, a
// date (midnight in loc), or an age back from now in days or hours ("7d",
// "36h").
func ParseSince(v string, loc *time.Location, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", v, loc); err == nil {
		return t, nil
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			return now.AddDate(0, 0, -d), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("want a date (2026-11-30), a time (2026-11-30T09:00:00Z) or an age (7d, 36h), not %q", v)
}

// ticketView is a ticket with its history.
type ticketView struct {
	Ticket *ticket.Ticket `json:"ticket"`
	Events []ticket.Event `json:"events"`
}

func (a *API) showTicket(w http.ResponseWriter, r *http.Request) error {
	t, err := a.c.Tickets.Get(r.Context(), r.PathValue("number"))
	if err != nil {
		return err
	}
	es, err := a.c.Tickets.Events(r.Context(), t.Number)
	if err != nil {
		return err
	}
	if es == nil {
		es = []ticket.Event{}
	}
	return writeJSON(w, http.StatusOK, ticketView{Ticket: t, Events: es})
}

type openRequest struct {
	Customer string `json:"customer"`
	Contact  string `json:"contact"`
	Subject  string `json:"subject"`
	Message  string `json:"message"`
	Priority string `json:"priority"`
	Type     string `json:"type"`
	Channel  string `json:"channel"`
	// At is when the call was, RFC 3339; "" for now.
	At string `json:"at"`
}

// openTicket opens a ticket for a request an agent took by phone or in
// person: 201 with the ticket, or 200 with the same ticket when the
// Idempotency-Key was used for the same request before.
func (a *API) openTicket(w http.ResponseWriter, r *http.Request) error {
	var req openRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	o := workflow.Opening{Customer: req.Customer, Contact: req.Contact, Subject: req.Subject, Message: req.Message,
		Priority: req.Priority, Type: req.Type, Channel: req.Channel}
	if req.At != "" {
		if o.At, err = time.Parse(time.RFC3339, req.At); err != nil {
			return badRequest("at must be an RFC 3339 time like 2026-11-23T09:20:00+01:00 (got %q)", req.At)
		}
	}
	t, created, err := a.c.Workflow.Open(r.Context(), agent(r), o, key)
	if err != nil {
		return err
	}
	w.Header().Set("Location", APIPrefix+"tickets/"+t.Number)
	if !created {
		return writeJSON(w, http.StatusOK, t)
	}
	return writeJSON(w, http.StatusCreated, t)
}

type replyRequest struct {
	Message string `json:"message"`
	Status  string `json:"status"`
}

func (a *API) reply(w http.ResponseWriter, r *http.Request) error {
	var req replyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	number := r.PathValue("number")
	if err := a.c.Workflow.ReplyRequest(r.Context(), number, agent(r), req.Message, req.Status, key); err != nil {
		return err
	}
	return a.writeTicket(w, r, number)
}

type noteRequest struct {
	Message string `json:"message"`
}

func (a *API) note(w http.ResponseWriter, r *http.Request) error {
	var req noteRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	number := r.PathValue("number")
	if err := a.c.Workflow.Note(r.Context(), number, agent(r), req.Message); err != nil {
		return err
	}
	return a.writeTicket(w, r, number)
}

type setRequest struct {
	Status   string `json:"status"`
	Priority string `json:"priority"`
	Reason   string `json:"reason"`
	// Type: one of the ticket's plan's types (workflow.Change.Type); a
	// feature request is closed, a closed one given another type reopened
	// with its SLA clock.
	Type string `json:"type"`
	// Assignee: null or absent leaves it, "" clears it.
	Assignee *string `json:"assignee"`
}

func (a *API) setTicket(w http.ResponseWriter, r *http.Request) error {
	var req setRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	switch {
	case req.Status == "" && req.Priority == "" && req.Type == "" && req.Assignee == nil:
		return badRequest("nothing to change: give status, priority, type and/or assignee")
	case req.Reason != "" && req.Priority == "":
		return badRequest("reason goes with a priority change: give priority too")
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	t, err := a.c.Workflow.SetRequest(r.Context(), r.PathValue("number"), agent(r),
		workflow.Change{Status: req.Status, Priority: req.Priority, Reason: req.Reason, Type: config.TypeKey(req.Type), Assignee: req.Assignee}, key)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (a *API) writeTicket(w http.ResponseWriter, r *http.Request, number string) error {
	t, err := a.c.Tickets.Get(r.Context(), number)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

// idempotencyKey turns an Idempotency-Key header into the request key of a
// change: a client that retries a request whose answer it lost does not
// send the customer the same mail twice. Keys are per agent; the key comes
// last and has no spaces, so no agent's name and key can spell another's.
func idempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		return "", nil
	}
	if len(k) > 200 || strings.IndexFunc(k, func(c rune) bool { return c <= ' ' || c > '~' }) >= 0 {
		return "", badRequest("Idempotency-Key must be 1 to 200 printable ASCII characters without spaces")
	}
	return agent(r).Name + " " + k, nil
}

// --- contacts ---

type contactsView struct {
	Version   int64               `json:"version"`
	Source    string              `json:"source,omitempty"`
	UpdatedAt *time.Time          `json:"updated_at,omitempty"`
	Customers []authz.CustomerRow `json:"customers"`
}

func (a *API) listContacts(w http.ResponseWriter, r *http.Request) error {
	cs, v, err := a.c.Contacts.Load(r.Context())
	if err != nil {
		return err
	}
	slices.SortFunc(cs, func(x, y config.Customer) int { return strings.Compare(x.ID, y.ID) })
	out := contactsView{Version: v, Customers: authz.CustomerRows(cs)}
	if v > 0 {
		info, err := a.c.Contacts.Info(r.Context())
		if err != nil {
			return err
		}
		out.Source = strings.TrimSpace(info.Source)
		if !info.UpdatedAt.IsZero() {
			out.UpdatedAt = &info.UpdatedAt
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

type addContactRequest struct {
	Customer         string `json:"customer"`
	Email            string `json:"email"`
	Name             string `json:"name"`
	Main             bool   `json:"main"`
	Language         string `json:"language"`
	MaxPriority      string `json:"max_priority"`
	ReceivesProgress *bool  `json:"receives_progress"`
}

type contactView struct {
	Customer string           `json:"customer"`
	Contact  authz.ContactRow `json:"contact"`
	Version  int64            `json:"version"`
}

func (a *API) addContact(w http.ResponseWriter, r *http.Request) error {
	var req addContactRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	req.Customer, req.Email = strings.TrimSpace(req.Customer), strings.TrimSpace(req.Email)
	switch {
	case req.Customer == "":
		return badRequest("customer is required")
	case req.Email == "":
		return badRequest("email is required")
	}
	progress := req.ReceivesProgress == nil || *req.ReceivesProgress
	c := config.Contact{Email: req.Email, Name: strings.TrimSpace(req.Name), Main: req.Main, Language: req.Language,
		MaxPriority: req.MaxPriority, ReceivesProgress: &progress}
	if err := a.refresh(r.Context()); err != nil {
		return err
	}
	if err := a.c.Contacts.Add(r.Context(), req.Customer, c, a.c.Plans); err != nil {
		return err
	}
	a.refreshAfter(r.Context())
	out := contactView{Customer: req.Customer, Contact: authz.NewContactRow(c)}
	cs, v, err := a.c.Contacts.Load(r.Context())
	if err != nil {
		return err
	}
	out.Version = v
	// The stored contact has the address in canonical form.
	want, _ := address.Normalise(req.Email)
	for _, cu := range cs {
		if cu.ID != req.Customer {
			continue
		}
		for _, ct := range cu.Contacts {
			if ct.Email == want {
				out.Contact = authz.NewContactRow(ct)
			}
		}
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (a *API) removeContact(w http.ResponseWriter, r *http.Request) error {
	email := r.PathValue("email")
	if err := a.refresh(r.Context()); err != nil {
		return err
	}
	if err := a.c.Contacts.Remove(r.Context(), email); err != nil {
		return err
	}
	a.refreshAfter(r.Context())
	v, err := a.c.Contacts.Version(r.Context())
	if err != nil {
		return err
	}
	removed, err := address.Normalise(email)
	if err != nil {
		removed = email
	}
	return writeJSON(w, http.StatusOK, map[string]any{"removed": removed, "version": v})
}

func (a *API) refresh(ctx context.Context) error {
	if a.c.Refresh == nil {
		return nil
	}
	if err := a.c.Refresh(ctx); err != nil {
		return fmt.Errorf("refreshing the directory before the edit: %w", err)
	}
	return nil
}

// refreshAfter makes this daemon use an edit at once; failing that, the
// periodic refresh picks it up, so it is only logged.
func (a *API) refreshAfter(ctx context.Context) {
	if a.c.Refresh == nil {
		return
	}
	if err := a.c.Refresh(ctx); err != nil {
		a.log.Warn("contact edit saved, but the directory in use was not refreshed; it is within 30s", "err", err)
	}
}

// --- rejections ---

type rejectionView struct {
	At        time.Time `json:"at"`
	Sender    string    `json:"sender"`
	Reason    string    `json:"reason"`
	MessageID string    `json:"message_id"`
	Subject   string    `json:"subject"`
}

func (a *API) listRejections(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	rs, err := a.c.Tickets.Rejections(r.Context())
	if err != nil {
		return err
	}
	out := make([]rejectionView, 0, len(rs))
	for _, x := range slices.Backward(rs) {
		out = append(out, rejectionView{At: x.At.UTC(), Sender: x.Sender, Reason: x.Reason, MessageID: x.MessageID, Subject: x.Subject})
	}
	return writeJSON(w, http.StatusOK, out)
}

// --- outbox ---

type entryView struct {
	// Ref names the entry for retry and drop, whatever else has the same
	// stream id in another queue.
	Ref            string      `json:"ref"`
	StreamID       string      `json:"stream_id"`
	ID             string      `json:"id"`
	Kind           notify.Kind `json:"kind"`
	Ticket         string      `json:"ticket,omitempty"`
	To             string      `json:"to"`
	QueuedAt       time.Time   `json:"queued_at"`
	State          string      `json:"state"`
	Attempts       int64       `json:"attempts"`
	Consumer       string      `json:"consumer,omitempty"`
	IdleSeconds    float64     `json:"idle_seconds"`
	RetryRequested bool        `json:"retry_requested,omitempty"`
	LastError      string      `json:"last_error,omitempty"`
	Invalid        string      `json:"invalid,omitempty"`
	UncertainSince *time.Time  `json:"uncertain_since,omitempty"`
	Resent         bool        `json:"resent,omitempty"`
}

type recordView struct {
	Ref      string      `json:"ref"`
	StreamID string      `json:"stream_id"`
	ID       string      `json:"id"`
	Kind     notify.Kind `json:"kind"`
	Ticket   string      `json:"ticket,omitempty"`
	To       string      `json:"to"`
	At       time.Time   `json:"at"`
	Reason   string      `json:"reason"`
	OutboxID string      `json:"outbox_id,omitempty"`
	Invalid  string      `json:"invalid,omitempty"`
}

func (a *API) listOutbox(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "queue"); err != nil {
		return err
	}
	switch queue := q.Get("queue"); queue {
	case "", "pending":
		es, err := a.c.Outbox.List(r.Context())
		if err != nil {
			return err
		}
		out := make([]entryView, 0, len(es))
		for _, e := range es {
			n := e.Notification
			v := entryView{Ref: string(notify.QueueOutbox) + ":" + e.StreamID, StreamID: e.StreamID, ID: n.ID,
				Kind: n.Kind, Ticket: n.Ticket, To: n.To, QueuedAt: e.QueuedAt.UTC(), State: e.State(), Attempts: e.Attempts, Consumer: e.Consumer,
				IdleSeconds: e.Idle.Seconds(), RetryRequested: e.RetryRequested, LastError: e.LastError, Invalid: e.Invalid, Resent: e.Resent}
			if e.Uncertain {
				since := e.UncertainSince.UTC()
				v.UncertainSince = &since
			}
			out = append(out, v)
		}
		return writeJSON(w, http.StatusOK, out)
	case "dead", "skipped":
		list, qn := a.c.Outbox.ListDead, notify.QueueDead
		if queue == "skipped" {
			list, qn = a.c.Outbox.ListSkipped, notify.QueueSkipped
		}
		rs, err := list(r.Context())
		if err != nil {
			return err
		}
		out := make([]recordView, 0, len(rs))
		for _, x := range rs {
			n := x.Notification
			out = append(out, recordView{Ref: string(qn) + ":" + x.StreamID, StreamID: x.StreamID, ID: n.ID, Kind: n.Kind,
				Ticket: n.Ticket, To: n.To, At: x.At.UTC(), Reason: x.Reason, OutboxID: x.OutboxID, Invalid: x.Invalid})
		}
		return writeJSON(w, http.StatusOK, out)
	default:
		return badRequest("queue must be pending, dead or skipped (got %q)", queue)
	}
}

type actionView struct {
	// Queue and StreamID are where the entry was found.
	Queue        string `json:"queue"`
	StreamID     string `json:"stream_id"`
	ID           string `json:"id"`
	To           string `json:"to"`
	NewID        string `json:"new_id,omitempty"`
	Attempts     int64  `json:"attempts,omitempty"`
	Consumer     string `json:"consumer,omitempty"`
	Unsuppressed bool   `json:"unsuppressed,omitempty"`
	Uncertain    bool   `json:"uncertain,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

func toActionView(x notify.Action) actionView {
	q := string(x.Queue)
	if x.Queue == notify.QueueOutbox {
		q = "pending"
	}
	return actionView{Queue: q, StreamID: x.StreamID, ID: x.Notification.ID, To: x.Notification.To, NewID: x.NewID,
		Attempts: x.Attempts, Consumer: x.Consumer, Unsuppressed: x.Unsuppressed, Uncertain: x.Uncertain, Reason: x.Reason}
}

func (a *API) retryOutbox(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "unsuppress"); err != nil {
		return err
	}
	unsuppress := false
	if v := q.Get("unsuppress"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("unsuppress must be true or false (got %q)", v)
		}
		unsuppress = b
	}
	x, err := a.c.Outbox.Retry(r.Context(), outboxID(r), unsuppress)
	if err != nil {
		return err
	}
	a.log.Info("outbox entry retried", "id", outboxID(r), "agent", agent(r).Name, "new_id", x.NewID, "unsuppressed", x.Unsuppressed)
	return writeJSON(w, http.StatusOK, toActionView(x))
}

func (a *API) dropOutbox(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "reason"); err != nil {
		return err
	}
	reason := strings.TrimSpace(q.Get("reason"))
	if reason == "" {
		return badRequest("reason is required: why the mail is given up on (recorded with it)")
	}
	// Who dropped it goes with the reason into the dead letter.
	x, err := a.c.Outbox.Drop(r.Context(), outboxID(r), reason+" ("+agent(r).Name+")")
	if err != nil {
		return err
	}
	a.log.Info("outbox entry dropped", "id", outboxID(r), "agent", agent(r).Name, "reason", reason)
	return writeJSON(w, http.StatusOK, toActionView(x))
}

// outboxID is the {id} of an outbox route: a stream id, QUEUE:STREAM-ID
// ("pending:" for the outbox itself), or a notification id, whose slashes
// come escaped (%2F).
func outboxID(r *http.Request) string {
	id := r.PathValue("id")
	if rest, ok := strings.CutPrefix(id, "pending:"); ok {
		return string(notify.QueueOutbox) + ":" + rest
	}
	return id
}

// --- requests and responses ---

// apiError is a refusal with its own status.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// onlyParams refuses query parameters other than allowed: a misspelt
// filter must not silently list everything.
func onlyParams(q map[string][]string, allowed ...string) error {
	for k := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return badRequest("unknown query parameter %q (this path takes none)", k)
			}
			return badRequest("unknown query parameter %q (want %s)", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// decodeJSON reads r's body, one JSON object of at most MaxBody bytes
// with only the fields of v, into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	// A JSON content type also keeps plain HTML forms of other sites out.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return &apiError{http.StatusUnsupportedMediaType, "the body must be JSON sent as Content-Type: application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			return badRequest("the body must be a single JSON object")
		}
		return nil
	}
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return &apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxBody)}
	case errors.Is(err, io.EOF):
		return badRequest("the body is empty: want a JSON object")
	case errors.As(err, &syntax):
		return badRequest("invalid JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ) && typ.Field != "":
		return badRequest("field %q must be %s, not %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &typ):
		return badRequest("the body must be a JSON object, not %s", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the body ends in the middle of the JSON")
	}
	return badRequest("invalid JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "ptr":
		return "a string or null"
	}
	return kind
}

// statusOf is the HTTP status for an error of the packages the API calls.
func statusOf(err error) int {
	var ae *apiError
	var ps config.Problems
	switch {
	case errors.As(err, &ae):
		return ae.status
	case errors.Is(err, ticket.ErrNotFound), errors.Is(err, authz.ErrNotFound), errors.Is(err, notify.ErrUnknownEntry):
		return http.StatusNotFound
	case errors.Is(err, workflow.ErrInvalid), errors.As(err, &ps):
		return http.StatusBadRequest
	case errors.Is(err, workflow.ErrRefused):
		return http.StatusForbidden
	case errors.Is(err, workflow.ErrKeyReused):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ticket.ErrConflict), errors.Is(err, authz.ErrNoDirectory),
		errors.Is(err, notify.ErrAmbiguousEntry), errors.Is(err, notify.ErrAlreadyDelivered),
		errors.Is(err, notify.ErrBeingSent), errors.Is(err, notify.ErrSuppressedTo), errors.Is(err, notify.ErrUnreadableEntry):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// fail answers r with err as {"error": ...}. Internal errors are logged
// and not shown: they may say more about the installation than agents
// need.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		a.log.Error("API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, status, "internal error; the daemon's log has the details")
		return
	}
	var ps config.Problems
	if errors.As(err, &ps) {
		list := make([]string, 0, len(ps))
		for _, p := range ps {
			list = append(list, p.Reason)
		}
		_ = writeJSON(w, status, map[string]any{"error": "not changed: " + strings.Join(list, "; "), "problems": list})
		return
	}
	writeError(w, status, err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

func writeError(w http.ResponseWriter, status int, msg string) {
	_ = writeJSON(w, status, map[string]string{"error": msg})
}

// --- request log ---

// requestInfo is what inner handlers tell LogRequests about a request.
type requestInfo struct {
	agent       string
	authFailure string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(infoKey{}).(*requestInfo)
	return i
}

// LogRequests logs each request handled by next: method, path, status,
// the agent (the token's name, set by RequireToken inside next) and the
// duration. Changes and failures are logged at info level and up,
// successful reads at debug level. Credentials and query strings are never
// logged.
func LogRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		level := slog.LevelInfo
		switch {
		case rec.status >= 500:
			level = slog.LevelError
		case rec.status >= 400:
			level = slog.LevelWarn
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("path", loggedPath(r.URL.Path)), slog.Int("status", rec.status),
			slog.String("agent", info.agent), slog.Duration("took", time.Since(start)),
		}
		if info.authFailure != "" {
			attrs = append(attrs, slog.String("auth", info.authFailure), slog.String("remote", r.RemoteAddr))
		}
		log.LogAttrs(r.Context(), level, "http request", attrs...)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
