package httpapi

// The agent API: JSON under /api/v1, for agents' tools and scripts. It calls
// workflow for everything that changes a ticket, authz.Store for contacts
// and notify.Outbox's admin functions for outgoing mail, so that it behaves
// exactly like the CLI and agent mail. docs/openapi.yaml describes it; a
// test keeps that document and the route table below in step.
//
// One file per resource, as Mailpit's server/apiv1: tickets.go, contacts.go,
// people.go, billing.go (time records and statements), rejections.go and
// outbox.go hold each resource's interface, handlers and JSON types; this
// file the configuration, the route table and dispatch; respond.go the
// refusals, body and query checks and JSON answers every route shares;
// auth.go the tokens and requestlog.go the request log.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/workflow"
)

// APIPrefix is the path every API route starts with; mount the API there
// (Mount{Pattern: APIPrefix, Handler: api}).
const APIPrefix = "/api/v1/"

// MaxBody caps a request body.
const MaxBody = 1 << 20

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
	// Now is the clock of relative times ("since=7d"); nil: time.Now.
	Now func() time.Time
	// Log is where the API logs; nil: nowhere.
	Log *slog.Logger
}

// withDefaults is c with its unset optional fields at their defaults.
func (c APIConfig) withDefaults() APIConfig {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
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

// NewAPI returns the API over c, complete: c's unset optional fields
// take their defaults (APIConfig). The route table needs none of c's
// dependencies, so NewAPI(APIConfig{}).Routes() lists the routes.
func NewAPI(c APIConfig) *API {
	c = c.withDefaults()
	a := &API{c: c, log: c.Log, mux: http.NewServeMux()}
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
