package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/maildesk/maildesk/notify"
)

// The outbox resource of the agent API: outgoing mail waiting, given up
// on (dead) or skipped, and retry and drop of single entries, through
// notify.Outbox's admin functions as `maildesk outbox` does.

// Outbox is the operator's view of outgoing mail (notify.Outbox).
type Outbox interface {
	List(ctx context.Context) ([]notify.Entry, error)
	ListDead(ctx context.Context) ([]notify.Record, error)
	ListSkipped(ctx context.Context) ([]notify.Record, error)
	Retry(ctx context.Context, id string, unsuppress bool) (notify.Action, error)
	Drop(ctx context.Context, id, reason string) (notify.Action, error)
}

// OutboxEntry is one mail waiting in the outbox as the API (GET
// /outbox) and `maildesk outbox list --json` show it: one type, so that
// the two cannot tell it differently.
type OutboxEntry struct {
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
	// UncertainSince: the delivery was uncertain (the relay did not
	// answer the end of the mail) since then; Resent: the automatic
	// resend was used.
	UncertainSince *time.Time `json:"uncertain_since,omitempty"`
	Resent         bool       `json:"resent,omitempty"`
}

// NewOutboxEntry is e as the API and the CLI show it.
func NewOutboxEntry(e notify.Entry) OutboxEntry {
	n := e.Notification
	v := OutboxEntry{Ref: string(notify.QueueOutbox) + ":" + e.StreamID, StreamID: e.StreamID, ID: n.ID,
		Kind: n.Kind, Ticket: n.Ticket, To: n.To, QueuedAt: e.QueuedAt.UTC(), State: e.State(), Attempts: e.Attempts, Consumer: e.Consumer,
		IdleSeconds: e.Idle.Seconds(), RetryRequested: e.RetryRequested, LastError: e.LastError, Invalid: e.Invalid, Resent: e.Resent}
	if e.Uncertain {
		since := e.UncertainSince.UTC()
		v.UncertainSince = &since
	}
	return v
}

// OutboxRecord is a dead letter or a skipped mail as the API (GET
// /outbox?queue=dead|skipped) and `maildesk outbox list --dead|--skipped
// --json` show it.
type OutboxRecord struct {
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

// NewOutboxRecord is x, found in queue q (notify.QueueDead or
// QueueSkipped), as the API and the CLI show it.
func NewOutboxRecord(q notify.Queue, x notify.Record) OutboxRecord {
	n := x.Notification
	return OutboxRecord{Ref: string(q) + ":" + x.StreamID, StreamID: x.StreamID, ID: n.ID, Kind: n.Kind,
		Ticket: n.Ticket, To: n.To, At: x.At.UTC(), Reason: x.Reason, OutboxID: x.OutboxID, Invalid: x.Invalid}
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
		out := make([]OutboxEntry, 0, len(es))
		for _, e := range es {
			out = append(out, NewOutboxEntry(e))
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
		out := make([]OutboxRecord, 0, len(rs))
		for _, x := range rs {
			out = append(out, NewOutboxRecord(qn, x))
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
