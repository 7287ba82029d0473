package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// The tickets resource of the agent API: list, show, open, reply, note and
// change, all through workflow so that they behave as the CLI and agent
// mail do.

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
		if !slices.Contains(config.Priorities, p) {
			return badRequest("unknown priority %q (want %s)", p, config.PriorityChoice())
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
		t, err := ParseSince(v, time.UTC, a.c.Now())
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
	if !workflow.ValidKey(k) {
		return "", badRequest("Idempotency-Key must be 1 to 200 printable ASCII characters without spaces")
	}
	return agent(r).Name + " " + k, nil
}
