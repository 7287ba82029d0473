package ticket

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/rediserr"
)

//go:embed commit.lua
var commitSrc string

var commitScript = redis.NewScript(indexSrc + commitSrc)

// ErrNotFound is returned for a ticket number the desk does not know.
var ErrNotFound = errors.New("ticket not found")

// Store keeps one desk's tickets in Redis, under config.KeyPrefix.
type Store struct {
	rdb    redis.UniversalClient
	kp     string // "md:{desk}:"
	prefix string // ticket prefix, "SD"
	outbox string // outbox stream key, owned by notify
	o      Options
	// built is set once every ticket is known to be in the indexes.
	built atomic.Bool
}

// Options configure a Store.
type Options struct {
	DeskID       string
	TicketPrefix string
	// OutboxKey is the stream notifications are queued on (notify.Outbox.Key).
	OutboxKey string
	// NoticeInterval is the least time between two rejection notices to
	// one sender; 0: 24 h.
	NoticeInterval time.Duration
	// DomainNoticeLimit notices at most go to one sender domain per
	// DomainNoticeInterval; 0: 10 per hour.
	DomainNoticeInterval time.Duration
	DomainNoticeLimit    int
	// RejectionRetention is how long rejection records are kept; 0: 90
	// days.
	RejectionRetention time.Duration
	// Now is the clock for retention; time.Now when nil.
	Now func() time.Time
	// SearchWindow is how many of the newest tickets subject search
	// covers; DefaultSearchWindow when 0.
	SearchWindow int
}

// withDefaults is o with its unset fields at the defaults above.
func (o Options) withDefaults() Options {
	if o.NoticeInterval <= 0 {
		o.NoticeInterval = 24 * time.Hour
	}
	if o.DomainNoticeInterval <= 0 {
		o.DomainNoticeInterval = time.Hour
	}
	if o.DomainNoticeLimit <= 0 {
		o.DomainNoticeLimit = 10
	}
	if o.RejectionRetention <= 0 {
		o.RejectionRetention = 90 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SearchWindow <= 0 {
		o.SearchWindow = DefaultSearchWindow
	}
	return o
}

// NewStore returns the store of one desk.
func NewStore(rdb redis.UniversalClient, o Options) *Store {
	o = o.withDefaults()
	return &Store{rdb: rdb, kp: config.KeyPrefix(o.DeskID), prefix: o.TicketPrefix, outbox: o.OutboxKey, o: o}
}

func (s *Store) key(name string) string { return s.kp + name }

// Create makes a ticket from a mail, queuing note (notification field/value
// pairs, see notify.Notification.Fields) as its acknowledgement when not
// nil. dedupe is the mail's Message-ID or content hash.
func (s *Store) Create(ctx context.Context, dedupe string, t New, note []string) (Result, error) {
	return s.commitOne(ctx, Commit{Dedupe: dedupe, Ticket: &t, Note: note})
}

// Reject records a refused mail and, when note is not nil and the sender
// has had no notice within the notice interval, queues note as the notice.
func (s *Store) Reject(ctx context.Context, dedupe string, r Rejection, note []string) (Result, error) {
	return s.commitOne(ctx, Commit{Dedupe: dedupe, Rejection: &r, Note: note})
}

// Commit is one mail's outcome: a new ticket (Ticket set) or a refusal
// (Rejection set), with the notification to queue (nil: none). See Create
// and Reject.
type Commit struct {
	Dedupe    string
	Ticket    *New
	Rejection *Rejection
	Note      []string
	// Floor, when above 0, is the least the ticket sequence may be: the
	// highest number the desk knows it gave. Below it Redis has lost
	// writes, and the commit fails with ErrBehind, changing nothing.
	Floor int64
}

// CommitResult is the result of one Commit of a batch.
type CommitResult struct {
	Result
	Err error
}

// CommitBatch commits several mails' outcomes in one round trip: the commit
// script runs once per mail, in the order given, pipelined. Each commit is
// atomic and idempotent on its own, exactly as Create and Reject are; one
// that fails does not undo or stop the others, and each has its own result.
func (s *Store) CommitBatch(ctx context.Context, cs []Commit) []CommitResult {
	out := make([]CommitResult, len(cs))
	calls := make([]commitCall, len(cs))
	for i, c := range cs {
		calls[i], out[i].Err = s.commitCall(c)
	}
	cmds := make([]*redis.Cmd, len(cs))
	run := func(eval bool) {
		pipe := s.rdb.Pipeline()
		for i, c := range calls {
			if out[i].Err != nil || (eval && !rediserr.Is(cmds[i].Err(), rediserr.NoScript)) {
				continue
			}
			if eval {
				cmds[i] = commitScript.Eval(ctx, pipe, c.keys, c.args...)
			} else {
				cmds[i] = commitScript.EvalSha(ctx, pipe, c.keys, c.args...)
			}
		}
		// Each command carries its own error; Exec's is the first of them.
		_, _ = pipe.Exec(ctx)
	}
	run(false)
	// A server that does not have the script yet (first use, restart)
	// answers NOSCRIPT without running anything: send those again with
	// the source, which also caches it.
	for i := range cmds {
		if cmds[i] != nil && rediserr.Is(cmds[i].Err(), rediserr.NoScript) {
			run(true)
			break
		}
	}
	for i, c := range calls {
		if out[i].Err != nil {
			continue
		}
		out[i].Result, out[i].Err = c.result(cmds[i].Slice())
	}
	return out
}

func (s *Store) commitOne(ctx context.Context, c Commit) (Result, error) {
	call, err := s.commitCall(c)
	if err != nil {
		return Result{}, err
	}
	return call.result(commitScript.Run(ctx, s.rdb, call.keys, call.args...).Slice())
}

// commitCall is one run of commit.lua.
type commitCall struct {
	mode, dedupe string
	keys         []string
	args         []any
}

// commitCall builds the arguments of commit.lua for c.
func (s *Store) commitCall(c Commit) (commitCall, error) {
	switch {
	case c.Ticket != nil:
		t := c.Ticket
		rec := []string{
			"subject", t.Subject,
			"status", cmp.Or(t.Status, StatusNew),
			"type", cmp.Or(t.Type, TypeIncident),
			"priority", t.Priority,
			"requested_priority", t.RequestedPriority,
			"priority_reason", t.PriorityReason,
			"participants", strings.Join(t.Participants, " "),
			"customer", t.Customer,
			"contact", t.Contact,
			"contact_name", t.ContactName,
			"language", t.Language,
			"created_at", t.CreatedAt.UTC().Format(time.RFC3339Nano),
			"message_id", t.MessageID,
			"text", t.Text,
			"quoted", t.Quoted,
			"src_mailbox", t.Source.Mailbox,
			"src_uidvalidity", strconv.FormatUint(uint64(t.Source.UIDValidity), 10),
			"src_uid", strconv.FormatUint(uint64(t.Source.UID), 10),
			"key", cmp.Or(t.Key, KeyOf(c.Dedupe)),
		}
		if t.LinkedTo != "" {
			rec = append(rec, "linked_to", t.LinkedTo)
		}
		for _, kv := range [][2]string{{"channel", t.Channel}, {"opened_by", t.OpenedBy}, {"request_sum", t.RequestSum}} {
			if kv[1] != "" {
				rec = append(rec, kv[0], kv[1])
			}
		}
		if len(t.Attachments) > 0 {
			b, err := json.Marshal(t.Attachments)
			if err != nil {
				return commitCall{}, fmt.Errorf("commit ticket for %q: encode attachments: %w", c.Dedupe, err)
			}
			rec = append(rec, "attachments", string(b))
		}
		rec = append(rec, "people", people(t.Contact, t.Participants))
		var sched [2]string
		if clk := t.Clock; clk != nil {
			b, err := json.Marshal(clk)
			if err != nil {
				return commitCall{}, fmt.Errorf("commit ticket for %q: encode SLA clock: %w", c.Dedupe, err)
			}
			rec = append(rec, "sla", string(b))
			sched = clk.schedule()
		}
		var number string
		if t.Number > 0 {
			number = strconv.FormatInt(t.Number, 10)
		}
		return s.call("ticket", c.Dedupe, "", sched, index{t.CreatedAt.UnixMilli(), searchText(t.Subject)}, rec, c.Note, c.Floor, number)
	case c.Rejection != nil:
		r := c.Rejection
		rec := []string{
			"at", r.At.UTC().Format(time.RFC3339Nano),
			"sender", r.Sender,
			"reason", r.Reason,
			"message_id", r.MessageID,
			"subject", r.Subject,
		}
		return s.call("reject", c.Dedupe, address.Key(r.Sender), [2]string{}, index{}, rec, c.Note, c.Floor, "")
	}
	return commitCall{}, fmt.Errorf("commit mail %q: neither a ticket nor a rejection", c.Dedupe)
}

// index is where a new ticket goes in the indexes: its creation time and
// its subject as searched.
type index struct {
	created int64
	search  string
}

// call prepares commit.lua; sched are the SLA warn and breach times (ms,
// "" for none) of a new ticket.
func (s *Store) call(mode, dedupe, sender string, sched [2]string, ix index, rec, note []string, floor int64, number string) (commitCall, error) {
	if dedupe == "" {
		return commitCall{}, errors.New("commit mail: empty dedupe key")
	}
	notify := "0"
	if note != nil {
		notify = "1"
	}
	_, domain, _ := strings.Cut(sender, "@")
	minID := s.o.Now().Add(-s.o.RejectionRetention).UnixMilli()
	args := make([]any, 0, 21+len(rec)+len(note))
	args = append(args, mode, dedupe, s.kp, s.prefix, notify, int64(s.o.NoticeInterval/time.Second), sender,
		domain, int64(s.o.DomainNoticeInterval/time.Second), s.o.DomainNoticeLimit, minID, sched[0], sched[1],
		max(floor, 0), number, ix.created, ix.search, s.o.SearchWindow, len(rec)/2)
	for _, v := range rec {
		args = append(args, v)
	}
	for _, v := range note {
		args = append(args, v)
	}
	// The notification's id, or for a new ticket what follows its number:
	// its format is Go's (noteid.go), not the script's.
	noteID := RejectionID(dedupe)
	if mode == "ticket" {
		noteID = ackIDSuffix
	}
	args = append(args, noteID)
	keys := []string{s.key("seen"), s.key("seq"), s.key("tickets"), s.outbox, s.key("rejections"), s.key(warnSet), s.key(breachSet)}
	return commitCall{mode: mode, dedupe: dedupe, keys: keys, args: args}, nil
}

// result reads commit.lua's reply.
func (c commitCall) result(res []any, err error) (Result, error) {
	if err != nil {
		return Result{}, fmt.Errorf("commit %s for %q: %w", c.mode, c.dedupe, scriptErr(err))
	}
	if len(res) != 3 {
		return Result{}, fmt.Errorf("commit %s for %q: unexpected script reply %v", c.mode, c.dedupe, res)
	}
	out, _ := res[0].(string)
	created, _ := res[1].(int64)
	notified, _ := res[2].(int64)
	return Result{Number: out, Created: created == 1, Notified: notified == 1}, nil
}

// Get returns one ticket by number ("SD-1"; case-insensitive).
func (s *Store) Get(ctx context.Context, number string) (*Ticket, error) {
	number = strings.ToUpper(strings.TrimSpace(number))
	m, err := s.rdb.HGetAll(ctx, s.key("t:"+number)).Result()
	if err != nil {
		return nil, fmt.Errorf("read ticket %s: %w", number, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("ticket %s: %w", number, ErrNotFound)
	}
	return fromHash(m), nil
}

// List returns all tickets, oldest first.
func (s *Store) List(ctx context.Context) ([]Ticket, error) {
	numbers, err := s.rdb.ZRange(ctx, s.key("tickets"), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(numbers))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range numbers {
			cmds[i] = p.HGetAll(ctx, s.key("t:"+n))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	out := make([]Ticket, 0, len(numbers))
	for _, c := range cmds {
		if m := c.Val(); len(m) > 0 {
			out = append(out, *fromHash(m))
		}
	}
	return out, nil
}

// Rejections returns the audit records of refused mail, oldest first.
func (s *Store) Rejections(ctx context.Context) ([]Rejection, error) {
	msgs, err := s.rdb.XRange(ctx, s.key("rejections"), "-", "+").Result()
	if err != nil {
		return nil, fmt.Errorf("list rejections: %w", err)
	}
	out := make([]Rejection, 0, len(msgs))
	for _, m := range msgs {
		str := func(k string) string { v, _ := m.Values[k].(string); return v }
		at, _ := time.Parse(time.RFC3339Nano, str("at"))
		out = append(out, Rejection{Sender: str("sender"), Reason: str("reason"), MessageID: str("message_id"), Subject: str("subject"), At: at})
	}
	return out, nil
}

// MarkAcknowledged records that the acknowledgement of ticket number was
// delivered: a new ticket becomes acknowledged. Only the first delivery
// counts.
func (s *Store) MarkAcknowledged(ctx context.Context, number string, at time.Time) error {
	_, err := s.Apply(ctx, number, Change{
		At: at, ExpectStatus: StatusNew, Status: StatusAcknowledged,
		Event: &Event{At: at, Kind: EventChange, From: "maildesk",
			Changes: []FieldChange{{Field: "status", Old: StatusNew, New: StatusAcknowledged}}},
	}, nil)
	if errors.Is(err, ErrConflict) {
		// An agent was faster, or this is a resend: the status stays.
		err = nil
	}
	if err != nil {
		return fmt.Errorf("mark %s acknowledged: %w", number, err)
	}
	// HSETNX keeps the first time if a resend is recorded again; only on
	// a ticket that exists: Redis may have been swapped for one without it
	// since the change above (a restored backup), and a hash holding only
	// this field would look like a ticket taking the number.
	if err := ackedScript.Run(ctx, s.rdb, []string{s.key("t:" + number)}, at.UTC().Format(time.RFC3339Nano)).Err(); err != nil {
		return fmt.Errorf("mark %s acknowledged: %w", number, err)
	}
	return nil
}

func fromHash(m map[string]string) *Ticket {
	t := &Ticket{
		Number:            m["number"],
		Subject:           m["subject"],
		Status:            m["status"],
		Type:              cmp.Or(m["type"], TypeIncident),
		Priority:          m["priority"],
		RequestedPriority: m["requested_priority"],
		PriorityReason:    m["priority_reason"],
		Participants:      strings.Fields(m["participants"]),
		Customer:          m["customer"],
		Contact:           m["contact"],
		ContactName:       m["contact_name"],
		Language:          m["language"],
		MessageID:         m["message_id"],
		Text:              m["text"],
		Quoted:            m["quoted"],
		Source:            Source{Mailbox: m["src_mailbox"]},
		Assignee:          m["assignee"],
		LinkedTo:          m["linked_to"],
		Channel:           cmp.Or(m["channel"], ChannelMail),
		OpenedBy:          m["opened_by"],
		RequestSum:        m["request_sum"],
		Key:               m["key"],
	}
	for _, f := range [...]struct {
		k   string
		dst **time.Time
	}{{"first_response_at", &t.FirstResponseAt}, {"resolved_at", &t.ResolvedAt}, {fieldNeedsAgent, &t.NeedsAgentSince}, {"anonymised_at", &t.AnonymisedAt}} {
		if at, ok := stamp(m[f.k]); ok {
			*f.dst = &at
		}
	}
	t.CreatedAt, _ = time.Parse(time.RFC3339Nano, m["created_at"])
	if raw := m["attachments"]; raw != "" {
		// Unreadable metadata loses the list, not the ticket.
		_ = json.Unmarshal([]byte(raw), &t.Attachments)
	}
	if v := m["src_uidvalidity"]; v != "" {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			t.Source.UIDValidity = uint32(n)
		}
	}
	if v := m["src_uid"]; v != "" {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			t.Source.UID = uint32(n)
		}
	}
	if v, ok := stamp(m["acknowledged_at"]); ok {
		t.AcknowledgedAt = &v
	}
	if v, ok := stamp(m["updated_at"]); ok {
		t.UpdatedAt = &v
	}
	if z := m["z"]; z != "" {
		// A closed ticket's text, packed (CompactClosed); unreadable is
		// left empty rather than failing the whole ticket.
		t.Text, t.Quoted, _ = unpackText(z)
	}
	if m["sla"] == "" && m["sla_plan"] != "" {
		// An anonymous record's SLA outcome (retention.closed_after).
		c := &Clock{Plan: m["sla_plan"], Target: m["sla_target"], Priority: t.Priority}
		for k, dst := range map[string]*time.Time{"sla_due": &c.FirstResponseDue, "sla_resolution_due": &c.ResolutionDue,
			"sla_responded_at": &c.RespondedAt, "sla_warned_at": &c.WarnedAt, "sla_breached_at": &c.BreachedAt} {
			*dst, _ = time.Parse(time.RFC3339Nano, m[k])
		}
		t.SLA = c
	}
	if raw := m["sla"]; raw != "" {
		if c, ok := decodeClock(raw); ok {
			// The alert markers are written by escalate.lua, not with the clock.
			if v, ok := stamp(m["sla_warned_at"]); ok {
				c.WarnedAt = v
			}
			if v, ok := stamp(m["sla_breached_at"]); ok {
				c.BreachedAt = v
			}
			t.SLA = &c
		}
	}
	return t
}

// stamp reads a stored time; false for none ("", the usual case, costs no
// parse error) or an unreadable one.
func stamp(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

var ackedScript = redis.NewScript(`if redis.call('HEXISTS', KEYS[1], 'number') == 1 then redis.call('HSETNX', KEYS[1], 'acknowledged_at', ARGV[1]) end return 0`)
