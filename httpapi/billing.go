package httpapi

// Time records and statements in the agent API (issue 21): the same
// workflow as `maildesk tickets time` and `maildesk billing statement`.

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/maildesk/maildesk/billing"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// TimeRecords is agents' time on tickets (workflow.Service).
type TimeRecords interface {
	RecordTimeRequest(ctx context.Context, number string, by workflow.Agent, e workflow.TimeEntry, key string) (ticket.TimeRecord, bool, error)
	TimeOf(ctx context.Context, number string) (workflow.TimeSummary, error)
	VoidTime(ctx context.Context, number string, by workflow.Agent, id, reason string) (ticket.TimeRecord, bool, error)
	SetTimeBudget(ctx context.Context, number string, by workflow.Agent, d time.Duration, reason string) (workflow.TimeSummary, error)
}

// Statements makes customers' monthly statements (workflow.Statements).
type Statements interface {
	Make(ctx context.Context, customer string, m billing.Month) (billing.Statement, string, error)
}

// errNoBilling: the API was built without time records or statements.
var errNoBilling = &apiError{status: http.StatusNotFound, msg: "this desk has no time records or statements"}

type timeRequest struct {
	// Duration is how long: "45m", "1h30m", "1:30".
	Duration string `json:"duration"`
	// At is when the work started, RFC 3339; "" for: it ended now.
	At       string `json:"at"`
	Activity string `json:"activity"`
	// Billable: null or absent is the activity's default.
	Billable *bool  `json:"billable"`
	Note     string `json:"note"`
}

// recordTime records work on a ticket: 201 with the record, or 200 with
// the same record when the Idempotency-Key was used for the same request.
func (a *API) recordTime(w http.ResponseWriter, r *http.Request) error {
	if a.c.Time == nil {
		return errNoBilling
	}
	var req timeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	if strings.TrimSpace(req.Duration) == "" {
		return badRequest("duration is required, like \"45m\" or \"1h30m\"")
	}
	d, err := workflow.ParseDuration(req.Duration)
	if err != nil {
		return err
	}
	e := workflow.TimeEntry{Duration: d, Activity: req.Activity, Billable: req.Billable, Note: req.Note, Via: workflow.ViaAPI}
	if req.At != "" {
		if e.At, err = time.Parse(time.RFC3339, req.At); err != nil {
			return badRequest("at must be an RFC 3339 time like 2026-11-20T16:30:00+01:00 (got %q)", req.At)
		}
	}
	rec, created, err := a.c.Time.RecordTimeRequest(r.Context(), r.PathValue("number"), agent(r), e, key)
	if err != nil {
		return err
	}
	w.Header().Set("Location", APIPrefix+"tickets/"+rec.Ticket+"/time")
	if !created {
		return writeJSON(w, http.StatusOK, rec)
	}
	return writeJSON(w, http.StatusCreated, rec)
}

// showTime is a ticket's time records, their totals and its budget.
func (a *API) showTime(w http.ResponseWriter, r *http.Request) error {
	if a.c.Time == nil {
		return errNoBilling
	}
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	s, err := a.c.Time.TimeOf(r.Context(), r.PathValue("number"))
	if err != nil {
		return err
	}
	if s.Records == nil {
		s.Records = []ticket.TimeRecord{}
	}
	return writeJSON(w, http.StatusOK, s)
}

// voidTime voids a wrong time record: 200 with the record, marked, also
// when it was void before.
func (a *API) voidTime(w http.ResponseWriter, r *http.Request) error {
	if a.c.Time == nil {
		return errNoBilling
	}
	q := r.URL.Query()
	if err := onlyParams(q, "reason"); err != nil {
		return err
	}
	rec, _, err := a.c.Time.VoidTime(r.Context(), r.PathValue("number"), agent(r), r.PathValue("id"), q.Get("reason"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rec)
}

type budgetRequest struct {
	// Budget is the ticket's own budget ("6h"); "0" returns it to the
	// plan's.
	Budget string `json:"budget"`
	Reason string `json:"reason"`
}

// setBudget gives a ticket its own time budget, agreed with the customer.
func (a *API) setBudget(w http.ResponseWriter, r *http.Request) error {
	if a.c.Time == nil {
		return errNoBilling
	}
	var req budgetRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Budget) == "" {
		return badRequest("budget is required, like \"6h\" (\"0\": the plan's)")
	}
	d, err := workflow.ParseDuration(req.Budget)
	if err != nil && strings.TrimSpace(req.Budget) == "0" {
		d, err = 0, nil
	}
	if err != nil {
		return err
	}
	s, err := a.c.Time.SetTimeBudget(r.Context(), r.PathValue("number"), agent(r), d, req.Reason)
	if err != nil {
		return err
	}
	if s.Records == nil {
		s.Records = []ticket.TimeRecord{}
	}
	return writeJSON(w, http.StatusOK, s)
}

// statement is a customer's monthly statement, as JSON (the default), CSV
// or PDF (?format=).
func (a *API) statement(w http.ResponseWriter, r *http.Request) error {
	if a.c.Statements == nil {
		return errNoBilling
	}
	q := r.URL.Query()
	if err := onlyParams(q, "format"); err != nil {
		return err
	}
	format := q.Get("format")
	if format == "" {
		format = billing.FormatJSON
	}
	if format != billing.FormatJSON && format != billing.FormatCSV && format != billing.FormatPDF {
		return badRequest("format must be json, csv or pdf (got %q)", format)
	}
	m, err := billing.ParseMonth(r.PathValue("month"))
	if err != nil {
		return badRequest("%s", err.Error())
	}
	customer := r.PathValue("customer")
	s, lang, err := a.c.Statements.Make(r.Context(), customer, m)
	if err != nil {
		return err
	}
	if format == billing.FormatJSON {
		return writeJSON(w, http.StatusOK, s)
	}
	var buf strings.Builder
	if err := billing.Write(&buf, s, format, lang); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", billing.ContentType(format))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// The customer id is an id (letters, digits, '-', '_'): safe in a
	// file name.
	h.Set("Content-Disposition", `attachment; filename="statement-`+s.Customer+"-"+m.String()+"."+format+`"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(buf.String()))
	return nil
}

// TimeMetrics registers maildesk_time_recorded_minutes_total and
// maildesk_time_billable_minutes_total, by customer, and returns what
// counts a record into them (workflow.Service.TimeRecorded): the time
// recorded through this daemon (agent mail, the API), as the other
// counters count what this daemon handles.
func (m *Metrics) TimeMetrics() func(ticket.TimeRecord) {
	recorded := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "maildesk_time_recorded_minutes_total", Help: "Minutes of work recorded on tickets, by customer.",
		ConstLabels: m.labels,
	}, []string{"customer"})
	billable := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "maildesk_time_billable_minutes_total", Help: "Minutes of billable work recorded on tickets, by customer.",
		ConstLabels: m.labels,
	}, []string{"customer"})
	m.Registry.MustRegister(recorded, billable)
	return func(r ticket.TimeRecord) {
		recorded.WithLabelValues(r.Customer).Add(float64(r.Minutes))
		b := billable.WithLabelValues(r.Customer)
		if r.Billable {
			b.Add(float64(r.Minutes))
		}
	}
}
