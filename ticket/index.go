package ticket

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/maildesk/maildesk/address"
	"github.com/redis/go-redis/v9"
)

// The indexes are sorted sets kept by the scripts that change tickets
// (index.lua says which), so that what people look at (the open tickets,
// a customer's, a contact's, an agent's, the newest) costs what it shows,
// not what the desk has held for years.

//go:embed index.lua
var indexSrc string

// Keys of the indexes, under the desk's prefix.
const (
	idxCreated  = "idx:created"
	idxOpen     = "idx:open"
	idxClosed   = "idx:closed"
	idxAnon     = "idx:anon"
	idxSubjects = "idx:subjects"
	// idxVersion is set once every ticket made before the indexes existed
	// is in them; idxBuild is how far the build got (a ticket sequence).
	idxVersion = "idx:version"
	idxBuild   = "idx:build"
)

// indexVersion is the version of the indexes' layout this code keeps.
const indexVersion = "1"

// DefaultSearchWindow is how many of the newest tickets subject search
// covers (Options.SearchWindow).
const DefaultSearchWindow = 20_000

// ErrBadCursor: a page cursor this store did not hand out.
var ErrBadCursor = errors.New("invalid cursor")

// personKey is how an address is written in a ticket's people and the
// contact index: canonical (address.Normalise), "" when it is none.
func personKey(addr string) string {
	a, err := address.Normalise(addr)
	if err != nil || strings.ContainsFunc(a, unicode.IsSpace) {
		return ""
	}
	return a
}

// people is the people field of a new ticket: its contact and participants.
func people(contact string, participants []string) string {
	var out []string
	for _, a := range append([]string{contact}, participants...) {
		if k := personKey(a); k != "" && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return strings.Join(out, " ")
}

// writer is the address of the person who wrote a follow-up, "" for
// machine mail and agents' notes: they join the ticket's people.
func writer(e Event) string {
	if e.Kind != EventReply && e.Kind != EventAutoReply {
		return ""
	}
	if a, err := mail.ParseAddress(e.From); err == nil {
		return personKey(a.Address)
	}
	return personKey(e.From)
}

// searchText is a subject as the search window holds it.
func searchText(subject string) string {
	return strings.ToLower(strings.Join(strings.Fields(subject), " "))
}

// asciiLower lower-cases ASCII letters only, as Lua's string.lower does in
// the scripts: an assignee's index key is the same on both sides.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Query selects tickets. The filters combine (all must match); a filter
// with several values matches any of them.
type Query struct {
	// Open: true for tickets not resolved or closed, false for resolved
	// or closed ones; nil for both.
	Open     *bool
	Status   []string
	Customer []string
	// Contact matches the tickets a person is the contact of, a
	// participant in, or wrote a follow-up on.
	Contact []string
	// Assignee is matched case-insensitively in ASCII letters.
	Assignee []string
	// Priority is checked on the tickets the other filters found.
	Priority []string
	// Since: created at or after.
	Since time.Time
	// Search: the subject contains it (case-insensitively), among the
	// newest Options.SearchWindow tickets.
	Search string
	// Limit is the most tickets on a page; 0 for all.
	Limit int
	// Cursor is Page.Next of the page before; "" for the first page.
	Cursor string
}

// Page is one page of tickets, newest first; Next is the cursor of the
// next page, "" when this is the last.
type Page struct {
	Tickets []Ticket
	Next    string
}

// listFields are the fields a list shows: all but the mail's text, which
// is in a ticket's own view.
var listFields = []string{
	"number", "subject", "status", "type", "priority", "requested_priority", "priority_reason", "participants",
	"customer", "contact", "contact_name", "language", "created_at", "message_id", "src_mailbox", "src_uidvalidity",
	"src_uid", "assignee", "linked_to", "first_response_at", "resolved_at", "acknowledged_at", "updated_at",
	"sla", "sla_warned_at", "sla_breached_at", "anonymised_at", "sla_plan", "sla_target", "sla_due",
	"sla_resolution_due", "sla_responded_at", "channel", "opened_by", fieldNeedsAgent, "key",
}

// filter is one condition of a query: the ticket is in any of keys.
type filter struct {
	keys []string
	size int64
}

// overviewFields are what an overview of open tickets shows (the
// dashboard): half the list fields, read a thousand times a refresh.
var overviewFields = []string{"number", "subject", "status", "type", "priority", "customer", "contact", "contact_name",
	"language", "created_at", "assignee", "sla", "sla_warned_at", "sla_breached_at", "channel", fieldNeedsAgent}

// needsAgentIndex holds the tickets waiting for an agent's judgement
// (Ticket.NeedsAgentSince), whatever their status: a customer's reply on a
// closed feature request must reach the dashboard, which reads open
// tickets only. change.lua keeps it.
const needsAgentIndex = "idx:needs_agent"

// OpenTickets returns every ticket not resolved or closed, newest first,
// with the fields of an overview: number, subject, status, type,
// priority, customer, contact and name, language, creation time, assignee
// and SLA clock. The dashboard.
//
// Tickets that are not open but wait for an agent (a reply on a closed
// feature request) come after them, so that the dashboard can put them
// first.
func (s *Store) OpenTickets(ctx context.Context) ([]Ticket, error) {
	open := true
	p, err := s.find(ctx, Query{Open: &open}, overviewFields)
	if err != nil {
		return nil, err
	}
	waiting, err := s.rdb.ZRange(ctx, s.key(needsAgentIndex), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read the tickets waiting for an agent: %w", err)
	}
	listed := make(map[string]bool, len(p.Tickets))
	for _, t := range p.Tickets {
		listed[t.Number] = true
	}
	var more []string
	for _, n := range waiting {
		if !listed[n] {
			more = append(more, n)
		}
	}
	ts, err := s.read(ctx, more, overviewFields)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t != nil && t.NeedsAgentSince != nil {
			p.Tickets = append(p.Tickets, *t)
		}
	}
	return p.Tickets, nil
}

// Find returns a page of the tickets q selects, newest first. It reads the
// index of the most selective filter from the cursor on, checks the other
// filters by index membership, and reads the list fields of the tickets it
// keeps: the cost grows with the page and the filter, not with the desk's
// history. Until the indexes are built (EnsureIndexes) it reads every
// ticket instead.
func (s *Store) Find(ctx context.Context, q Query) (Page, error) {
	return s.find(ctx, q, listFields)
}

// find is Find reading fields of each ticket.
func (s *Store) find(ctx context.Context, q Query, fields []string) (Page, error) {
	max, err := parseCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	minScore := "-inf"
	if !q.Since.IsZero() {
		minScore = strconv.FormatInt(q.Since.UnixMilli(), 10)
	}
	built, err := s.indexed(ctx)
	if err != nil {
		return Page{}, err
	}
	if !built {
		return s.findByScan(ctx, q, max)
	}
	filters := s.filters(q)
	if len(filters) > 0 {
		cmds := make([][]*redis.IntCmd, len(filters))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, f := range filters {
				for _, k := range f.keys {
					cmds[i] = append(cmds[i], p.ZCard(ctx, k))
				}
			}
			return nil
		}); err != nil {
			return Page{}, fmt.Errorf("list tickets: %w", err)
		}
		for i := range filters {
			for _, c := range cmds[i] {
				filters[i].size += c.Val()
			}
		}
		slices.SortStableFunc(filters, func(a, b filter) int { return cmp.Compare(a.size, b.size) })
		if filters[0].size == 0 {
			return Page{Tickets: []Ticket{}}, nil
		}
	}
	var driver []string
	rest := filters
	if q.Search == "" {
		driver = []string{s.key(idxCreated)}
		if len(filters) > 0 {
			driver, rest = filters[0].keys, filters[1:]
		}
	}
	needle := searchText(q.Search)
	batch := int64(max64(100, int64(q.Limit)+1))
	switch {
	case q.Search != "":
		batch = 2000
	case q.Limit == 0:
		// All of them (the dashboard's open tickets): in few round trips.
		batch = 1000
	}
	out := make([]Ticket, 0, min(batch, 1000))
	var lastShown float64
	for {
		cands, last, done, err := s.candidates(ctx, driver, needle, max, minScore, batch)
		if err != nil {
			return Page{}, err
		}
		ts, err := s.keep(ctx, cands, rest, q.Priority, fields)
		if err != nil {
			return Page{}, err
		}
		for _, t := range ts {
			if q.Limit > 0 && len(out) == q.Limit {
				// One more matches: there is a next page.
				return Page{Tickets: out, Next: formatCursor(lastShown)}, nil
			}
			out, lastShown = append(out, t.Ticket), t.score
		}
		if done {
			return Page{Tickets: out}, nil
		}
		max = last
	}
}

// scored is a ticket with its index score.
type scored struct {
	Ticket
	score float64
}

type candidate struct {
	number string
	score  float64
}

// filters are q's index conditions.
func (s *Store) filters(q Query) []filter {
	var fs []filter
	add := func(prefix string, vals []string, norm func(string) string) {
		if len(vals) == 0 {
			return
		}
		var f filter
		for _, v := range vals {
			if k := s.key(prefix + norm(v)); !slices.Contains(f.keys, k) {
				f.keys = append(f.keys, k)
			}
		}
		fs = append(fs, f)
	}
	same := func(v string) string { return v }
	if q.Open != nil {
		if *q.Open {
			fs = append(fs, filter{keys: []string{s.key(idxOpen)}})
		} else {
			fs = append(fs, filter{keys: []string{s.key("idx:status:" + StatusResolved), s.key("idx:status:" + StatusClosed)}})
		}
	}
	add("idx:status:", q.Status, same)
	add("idx:customer:", q.Customer, same)
	add("idx:contact:", q.Contact, func(v string) string { return cmp.Or(personKey(v), strings.ToLower(strings.TrimSpace(v))) })
	add("idx:assignee:", q.Assignee, asciiLower)
	return fs
}

// candidates reads the next batch of the driver's tickets below max, newest
// first: the union of the driver's keys, or the search window's matches
// when driver is nil. last is where the next batch starts; done that there
// is none.
func (s *Store) candidates(ctx context.Context, driver []string, needle string, max float64, minScore string, batch int64) (_ []candidate, last float64, done bool, err error) {
	keys := driver
	if keys == nil {
		keys = []string{s.key(idxSubjects)}
	}
	cmds := make([]*redis.ZSliceCmd, len(keys))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: k, Start: below(max), Stop: minScore,
				ByScore: true, Rev: true, Count: batch})
		}
		return nil
	}); err != nil {
		return nil, 0, false, fmt.Errorf("list tickets: %w", err)
	}
	var all []redis.Z
	more := false
	for _, c := range cmds {
		all = append(all, c.Val()...)
		more = more || int64(len(c.Val())) == batch
	}
	// Of the union, the first batch are certainly in order: every key
	// gave its first batch below max.
	slices.SortFunc(all, func(a, b redis.Z) int { return cmp.Compare(b.Score, a.Score) })
	if int64(len(all)) > batch {
		all, more = all[:batch], true
	}
	out := make([]candidate, 0, len(all))
	for i, z := range all {
		m, _ := z.Member.(string)
		if i > 0 && z.Score == all[i-1].Score {
			continue // one ticket in two of the keys
		}
		if driver == nil {
			number, text, _ := strings.Cut(m, " ")
			if !strings.Contains(text, needle) {
				continue
			}
			m = number
		}
		out = append(out, candidate{number: m, score: z.Score})
	}
	if len(all) == 0 {
		return out, 0, true, nil
	}
	return out, all[len(all)-1].Score, !more, nil
}

// keep returns the candidates that pass the other filters, as tickets.
func (s *Store) keep(ctx context.Context, cands []candidate, rest []filter, priority, fields []string) ([]scored, error) {
	if len(cands) == 0 {
		return nil, nil
	}
	members := make([]string, len(cands))
	for i, c := range cands {
		members[i] = c.number
	}
	pass := make([]bool, len(cands))
	for i := range pass {
		pass[i] = true
	}
	if len(rest) > 0 {
		cmds := make([][]*redis.FloatSliceCmd, len(rest))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, f := range rest {
				for _, k := range f.keys {
					cmds[i] = append(cmds[i], p.ZMScore(ctx, k, members...))
				}
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("list tickets: %w", err)
		}
		for i := range rest {
			for j := range cands {
				in := false
				for _, c := range cmds[i] {
					// go-redis reads a nil score as 0; a real score of 0
					// is 1970-01-01 00:00:00.000.
					if v := c.Val(); j < len(v) && v[j] != 0 {
						in = true
					}
				}
				pass[j] = pass[j] && in
			}
		}
	}
	var numbers []string
	var scores []float64
	for i, c := range cands {
		if pass[i] {
			numbers, scores = append(numbers, c.number), append(scores, c.score)
		}
	}
	ts, err := s.read(ctx, numbers, fields)
	if err != nil {
		return nil, err
	}
	out := make([]scored, 0, len(ts))
	for i, t := range ts {
		if t == nil || len(priority) > 0 && !slices.Contains(priority, t.Priority) {
			continue // gone meanwhile (retention) or filtered
		}
		out = append(out, scored{Ticket: *t, score: scores[i]})
	}
	return out, nil
}

// read returns fields of tickets numbers, nil for one that is gone.
func (s *Store) read(ctx context.Context, numbers, fields []string) ([]*Ticket, error) {
	vals, err := s.readValues(ctx, numbers, fields)
	if err != nil {
		return nil, fmt.Errorf("read tickets: %w", err)
	}
	out := make([]*Ticket, len(numbers))
	// One map for all (the dashboard reads a thousand tickets a refresh):
	// fromHash copies what it keeps.
	m := make(map[string]string, len(fields))
	for i, v := range vals {
		clear(m)
		fillHash(m, fields, v)
		if m["number"] == "" {
			continue
		}
		out[i] = fromHash(m)
	}
	return out, nil
}

// readHashes reads fields of the hashes of tickets numbers in one round
// trip, in their order; a field a ticket lacks, or all of one that is gone,
// is absent from its map.
func (s *Store) readHashes(ctx context.Context, numbers, fields []string) ([]map[string]string, error) {
	vals, err := s.readValues(ctx, numbers, fields)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, len(vals))
	for i, v := range vals {
		out[i] = hmap(fields, v)
	}
	return out, nil
}

// readValues is HMGET of fields of tickets numbers, in one round trip.
func (s *Store) readValues(ctx context.Context, numbers, fields []string) ([][]any, error) {
	cmds := make([]*redis.SliceCmd, len(numbers))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range numbers {
			cmds[i] = p.HMGet(ctx, s.key("t:"+n), fields...)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([][]any, len(cmds))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

func parseCursor(c string) (float64, error) {
	if c == "" {
		return math.Inf(1), nil
	}
	v, err := strconv.ParseInt(strings.TrimPrefix(c, "c"), 10, 64)
	if err != nil || !strings.HasPrefix(c, "c") {
		return 0, fmt.Errorf("%w %q: use the cursor of the page before", ErrBadCursor, c)
	}
	return float64(v), nil
}

// formatCursor: a cursor is the score of the last ticket shown; the "c"
// keeps it from being taken for a count or a time.
func formatCursor(score float64) string { return "c" + strconv.FormatInt(int64(score), 10) }

// below is the score range's end just under v.
func below(v float64) string {
	if math.IsInf(v, 1) {
		return "+inf"
	}
	return "(" + strconv.FormatInt(int64(v), 10)
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// findByScan is Find before the indexes are built (right after an
// upgrade): it reads every ticket, as listing did before.
func (s *Store) findByScan(ctx context.Context, q Query, max float64) (Page, error) {
	all, err := s.List(ctx)
	if err != nil {
		return Page{}, err
	}
	in := func(vals []string, v string, norm func(string) string) bool {
		if len(vals) == 0 {
			return true
		}
		for _, x := range vals {
			if norm(x) == norm(v) {
				return true
			}
		}
		return false
	}
	same := func(v string) string { return v }
	person := func(v string) string { return cmp.Or(personKey(v), strings.ToLower(strings.TrimSpace(v))) }
	needle := searchText(q.Search)
	var hits []scored
	// Newest first, and of tickets made in the same millisecond the later.
	for _, t := range slices.Backward(all) {
		score := float64(t.CreatedAt.UnixMilli())
		involved := len(q.Contact) == 0
		for _, p := range append([]string{t.Contact}, t.Participants...) {
			involved = involved || in(q.Contact, p, person)
		}
		if score >= max || !q.Since.IsZero() && t.CreatedAt.Before(q.Since) ||
			q.Open != nil && Open(t.Status) != *q.Open || !in(q.Status, t.Status, same) ||
			!in(q.Customer, t.Customer, same) || !involved || !in(q.Assignee, t.Assignee, asciiLower) ||
			len(q.Assignee) > 0 && t.Assignee == "" || !in(q.Priority, t.Priority, same) ||
			needle != "" && !strings.Contains(searchText(t.Subject), needle) {
			continue
		}
		t.Text, t.Quoted = "", ""
		hits = append(hits, scored{Ticket: t, score: score})
	}
	slices.SortStableFunc(hits, func(a, b scored) int { return cmp.Compare(b.score, a.score) })
	out := Page{Tickets: []Ticket{}}
	for i, h := range hits {
		if q.Limit > 0 && i == q.Limit {
			out.Next = formatCursor(hits[i-1].score)
			break
		}
		out.Tickets = append(out.Tickets, h.Ticket)
	}
	return out, nil
}
