package ticket

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Erasure and export of one person's data (GDPR articles 15 and 17). The
// person's tickets are found by the contact index: those they are the
// contact of, a participant in, or wrote a follow-up on.

//go:embed erase_ticket.lua
var eraseTicketSrc string

var eraseTicketScript = redis.NewScript(indexSrc + purgeSrc + eraseTicketSrc)

// Erased stands where a person's name, address or words were.
const Erased = "(erased)"

// erasures is the stream recording that erasures happened, without whose.
const erasures = "erasures"

// PersonErasure is what ErasePerson removed.
type PersonErasure struct {
	// Tickets the person was the contact of lost their subject, text,
	// contact and original mail; in Others they were a participant or
	// wrote follow-ups, which were taken out.
	Tickets int `json:"tickets"`
	Others  int `json:"other_tickets"`
	// Events redacted in the histories.
	Events int `json:"events"`
	// Rejections are the records of the person's refused mail removed.
	Rejections int `json:"rejections"`
	// MailsQueued were queued for deletion from the IMAP folders.
	MailsQueued int `json:"mails_queued"`
}

// ErasePerson removes addr's personal data from every ticket and event and
// from the rejection records; the Message-IDs of their mails are forgotten
// and their mails queued for deletion (PurgeQueuedMails). Tickets of other
// people keep working: a participant is taken off, a follow-up's words
// and sender are replaced by Erased. Free text written by others (an
// agent's reply, the subject and text of a ticket someone else opened, a
// reason given for a change, a time record's note) is searched for the
// address and, on the tickets the person was the contact of, for their
// name.
func (s *Store) ErasePerson(ctx context.Context, addr string) (PersonErasure, error) {
	var r PersonErasure
	who := personKey(addr)
	numbers, err := s.PersonTickets(ctx, addr)
	if err != nil {
		return r, fmt.Errorf("erase a person: %w", err)
	}
	count := func(e erased) {
		if e.contact {
			r.Tickets++
		} else {
			r.Others++
		}
		r.Events += e.events
		r.MailsQueued += e.queued
	}
	pats := patterns{}
	for chunk := range slices.Chunk(numbers, 100) {
		// A chunk at a time in two round trips; a ticket that changed
		// between them is done again on its own.
		es, err := s.eraseChunk(ctx, chunk, who, pats)
		if err != nil {
			return r, fmt.Errorf("erase a person: %w", err)
		}
		for i, e := range es {
			for attempt := 0; !e.done; attempt++ {
				if attempt == 10 {
					return r, fmt.Errorf("erase a person from %s: it keeps changing; try again", chunk[i])
				}
				one, err := s.eraseChunk(ctx, chunk[i:i+1], who, pats)
				if err != nil {
					return r, fmt.Errorf("erase a person from %s: %w", chunk[i], err)
				}
				e = one[0]
			}
			count(e)
		}
	}
	// Only the tickets read are taken off the person's index: a ticket of
	// theirs opened meanwhile was not erased and must stay findable by the
	// next export or erasure.
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for chunk := range slices.Chunk(numbers, 1000) {
			members := make([]any, len(chunk))
			for i, n := range chunk {
				members[i] = n
			}
			p.ZRem(ctx, s.key("idx:contact:"+who), members...)
		}
		p.Del(ctx, s.key("notice:"+who))
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("erase a person: %w", err)
	}
	if r.Rejections, err = s.eraseRejections(ctx, who); err != nil {
		return r, err
	}
	return r, nil
}

// erased is what erasing a person did to one ticket; done is false when
// the ticket changed between reading and writing it.
type erased struct {
	done, contact  bool
	events, queued int
}

// eraseChunk takes who out of tickets numbers.
func (s *Store) eraseChunk(ctx context.Context, numbers []string, who string, pats patterns) ([]erased, error) {
	hs := make([]*redis.MapStringStringCmd, len(numbers))
	raws := make([]*redis.StringSliceCmd, len(numbers))
	times := make([]*redis.MapStringStringCmd, len(numbers))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range numbers {
			hs[i] = p.HGetAll(ctx, s.key("t:"+n))
			raws[i] = p.LRange(ctx, s.key("t:"+n+":events"), 0, -1)
			times[i] = p.HGetAll(ctx, s.key("t:"+n+":time"))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]erased, len(numbers))
	args := make([][]any, len(numbers))
	for i, n := range numbers {
		if len(hs[i].Val()) == 0 {
			out[i].done = true // gone meanwhile
			continue
		}
		var err error
		if args[i], out[i], err = s.eraseArgs(n, hs[i].Val(), raws[i].Val(), times[i].Val(), who, pats); err != nil {
			return nil, err
		}
	}
	if err := eraseTicketScript.Load(ctx, s.rdb).Err(); err != nil {
		return nil, err
	}
	cmds := make([]*redis.Cmd, len(numbers))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range numbers {
			if args[i] != nil {
				keys := []string{s.key("t:" + n), s.key("t:" + n + ":events"), s.key("seen"), s.key(seenPrev), s.key("t:" + n + ":time")}
				cmds[i] = eraseTicketScript.EvalSha(ctx, p, keys, args[i]...)
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for i, c := range cmds {
		if c != nil {
			ok, _ := c.Int()
			out[i].done = ok == 1
		}
	}
	return out, nil
}

// timeNoteArgs are the time records of erase_ticket.lua (id, record as
// read, record redacted) redacting words from the free text of a ticket's
// time records (id -> JSON): the agents' notes and void reasons. Only
// those fields are rewritten; nil when none names the person.
func timeNoteArgs(records map[string]string, words []*regexp.Regexp) ([]any, error) {
	var args []any
	for _, id := range slices.Sorted(maps.Keys(records)) {
		raw := records[id]
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(raw), &m) != nil {
			continue
		}
		changed := false
		for _, k := range []string{"note", "void_reason"} {
			var v string
			if json.Unmarshal(m[k], &v) != nil || v == "" {
				continue
			}
			if r := redactAll(words, v); r != v {
				b, err := json.Marshal(r)
				if err != nil {
					return nil, err
				}
				m[k], changed = b, true
			}
		}
		if !changed {
			continue
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("time record %s: %w", id, err)
		}
		args = append(args, id, raw, string(b))
	}
	return args, nil
}

// eraseArgs are erase_ticket.lua's arguments taking who out of ticket n,
// whose fields are f, history raw and time records times.
func (s *Store) eraseArgs(n string, f map[string]string, raw []string, times map[string]string, who string, pats patterns) ([]any, erased, error) {
	var e erased
	e.contact = personKey(f["contact"]) == who
	var del, set, ids []string
	words := eraseWords(f, who, pats)
	if e.contact {
		// The attachments' names are their mail's, which goes.
		del = append(del, "subject", "text", "quoted", "z", "contact", "contact_name", "message_id",
			"src_mailbox", "src_uidvalidity", "src_uid", "attachments")
		ids = append(ids, f["message_id"])
	}
	if ps := strings.Fields(f["participants"]); slices.ContainsFunc(ps, func(p string) bool { return personKey(p) == who }) {
		ps = slices.DeleteFunc(ps, func(p string) bool { return personKey(p) == who })
		set = append(set, "participants", strings.Join(ps, " "))
	}
	if ps := strings.Fields(f["people"]); slices.Contains(ps, who) {
		set = append(set, "people", strings.Join(slices.DeleteFunc(ps, func(p string) bool { return p == who }), " "))
	}
	// The ticket's own free text is someone else's where the person is not
	// its contact (or an agent's, as priority_reason): their address (and,
	// on their own tickets, name) goes from it as from the events'. A
	// closed ticket's text may be packed (z).
	subject := ""
	for _, k := range []string{"subject", "text", "quoted", "priority_reason"} {
		if v, ok := f[k]; ok && !slices.Contains(del, k) {
			if r := redactAll(words, v); r != v {
				set = append(set, k, r)
				if k == "subject" {
					subject = searchText(r)
				}
			}
		}
	}
	if z := f["z"]; z != "" && !slices.Contains(del, "z") {
		text, quoted, err := unpackText(z)
		if err != nil {
			return nil, e, fmt.Errorf("erase a person from %s: its packed text: %w", n, err)
		}
		if rt, rq := redactAll(words, text), redactAll(words, quoted); rt != text || rq != quoted {
			packed, err := packText(rt, rq)
			if err != nil {
				return nil, e, fmt.Errorf("erase a person from %s: pack its text: %w", n, err)
			}
			set = append(set, "z", packed)
		}
	}
	newEvents := make([]string, len(raw))
	changed := false
	for i, r := range raw {
		newEvents[i] = r
		var ev Event
		if json.Unmarshal([]byte(r), &ev) != nil {
			continue
		}
		before := ev
		// The reasons agents gave for changes are free text too.
		reasons := false
		ev.Changes = slices.Clone(ev.Changes)
		for j, c := range ev.Changes {
			if r := redactAll(words, c.Reason); r != c.Reason {
				ev.Changes[j].Reason, reasons = r, true
			}
		}
		if sender(ev.From) == who {
			ids = append(ids, ev.MessageID)
			ev = Event{At: ev.At, Kind: ev.Kind, From: Erased, Changes: ev.Changes}
		} else {
			ev.From, ev.Subject, ev.Text, ev.Quoted = redactAll(words, ev.From), redactAll(words, ev.Subject), redactAll(words, ev.Text), redactAll(words, ev.Quoted)
		}
		if !reasons && ev.From == before.From && ev.Subject == before.Subject && ev.Text == before.Text && ev.Quoted == before.Quoted && ev.MessageID == before.MessageID {
			continue
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, e, err
		}
		newEvents[i], changed = string(b), true
		e.events++
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return id == "" })
	e.queued = len(ids)
	args := []any{s.kp, n, f["updated_at"], len(raw), time.Now().UnixMilli(), len(del)}
	for _, v := range del {
		args = append(args, v)
	}
	args = append(args, len(set)/2)
	for _, v := range set {
		args = append(args, v)
	}
	if changed {
		args = append(args, len(newEvents))
		for _, v := range newEvents {
			args = append(args, v)
		}
	} else {
		args = append(args, -1)
	}
	args = append(args, len(ids))
	for _, v := range ids {
		args = append(args, v)
	}
	args = append(args, subject)
	trecs, err := timeNoteArgs(times, words)
	if err != nil {
		return nil, e, fmt.Errorf("erase a person from %s: %w", n, err)
	}
	args = append(args, len(trecs)/3)
	args = append(args, trecs...)
	return append(args, f["erased"]), e, nil
}

// eraseWords are what is taken out of others' free text on the ticket
// whose fields are f: who's address, and on a ticket they are the contact
// of their name (four letters at least: a shorter one is too likely a
// part of other words).
func eraseWords(f map[string]string, who string, pats patterns) []*regexp.Regexp {
	words := []*regexp.Regexp{pats.of(who)}
	if personKey(f["contact"]) == who {
		if name := strings.TrimSpace(f["contact_name"]); len([]rune(name)) >= 4 {
			words = append(words, pats.of(name))
		}
	}
	return words
}

// sender is the address an event's From names, "" when it names none.
func sender(from string) string {
	if a, err := mail.ParseAddress(from); err == nil {
		return personKey(a.Address)
	}
	return personKey(from)
}

// patterns are the compiled wordPatterns of one erasure: compiling one
// costs more than applying it to a ticket's history.
type patterns map[string]*regexp.Regexp

func (p patterns) of(w string) *regexp.Regexp {
	re, ok := p[w]
	if !ok {
		re = wordPattern(w)
		p[w] = re
	}
	return re
}

// wordPattern matches w case-insensitively, not inside a longer address
// or word ("jan@acme.example" not in "bojan@acme.example").
func wordPattern(w string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)(^|[^\pL\pN._%+-])` + regexp.QuoteMeta(w) + `($|[^\pL\pN_-])`)
}

// redactAll redacts every one of words in s.
func redactAll(words []*regexp.Regexp, s string) string {
	for _, w := range words {
		s = redact(w, s)
	}
	return s
}

// redact replaces what w matches by Erased, keeping the characters around
// it; twice, as two matches may share the character between them.
func redact(w *regexp.Regexp, s string) string {
	for range 2 {
		s = w.ReplaceAllString(s, "${1}"+Erased+"${2}")
	}
	return s
}

// eraseRejections removes the rejection records of who's refused mail.
func (s *Store) eraseRejections(ctx context.Context, who string) (int, error) {
	ids, err := s.personRejections(ctx, who, nil)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	n, err := s.rdb.XDel(ctx, s.key("rejections"), ids...).Result()
	if err != nil {
		return 0, fmt.Errorf("erase a person's rejection records: %w", err)
	}
	return int(n), nil
}

// personRejections returns the stream ids of who's rejection records and
// passes each record to fn (when not nil).
func (s *Store) personRejections(ctx context.Context, who string, fn func(Rejection)) ([]string, error) {
	var ids []string
	start := "-"
	for {
		msgs, err := s.rdb.XRangeN(ctx, s.key("rejections"), start, "+", 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("read the rejection records: %w", err)
		}
		for _, m := range msgs {
			str := func(k string) string { v, _ := m.Values[k].(string); return v }
			if personKey(str("sender")) != who {
				continue
			}
			ids = append(ids, m.ID)
			if fn != nil {
				at, _ := time.Parse(time.RFC3339Nano, str("at"))
				fn(Rejection{Sender: str("sender"), Reason: str("reason"), MessageID: str("message_id"), Subject: str("subject"), At: at})
			}
		}
		if len(msgs) < 1000 {
			return ids, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// RecordErasure notes that an erasure happened (GDPR accountability)
// without whose: when, who did it, a reference of the operator's (the
// request's case number) and the counts.
func (s *Store) RecordErasure(ctx context.Context, at time.Time, by, reference string, counts map[string]int) error {
	vals := []any{"at", at.UTC().Format(time.RFC3339), "by", by, "reference", reference}
	for k, v := range counts {
		vals = append(vals, k, v)
	}
	if err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.key(erasures), Values: vals}).Err(); err != nil {
		return fmt.Errorf("record the erasure: %w", err)
	}
	return nil
}

// PersonTicket is one ticket in an export: the whole ticket with its
// history when the person is its contact; otherwise its number, customer
// and status with only the person's own follow-ups.
type PersonTicket struct {
	Role   string  `json:"role"` // contact | involved
	Ticket *Ticket `json:"ticket"`
	Events []Event `json:"events"`
}

// PersonTickets returns the numbers of addr's tickets, by number: those
// they are the contact of, a participant in, or wrote a follow-up on.
func (s *Store) PersonTickets(ctx context.Context, addr string) ([]string, error) {
	who := personKey(addr)
	if who == "" {
		return nil, fmt.Errorf("the tickets of %q: not an e-mail address", addr)
	}
	// The contact index is how their tickets are found: on a desk just
	// upgraded it must be complete first.
	if err := s.EnsureIndexes(ctx, nil); err != nil {
		return nil, fmt.Errorf("the tickets of a person: %w", err)
	}
	numbers, err := s.rdb.ZRange(ctx, s.key("idx:contact:"+who), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list the tickets of a person: %w", err)
	}
	// The index is scored by creation time, and mails committed in one batch
	// can be created out of their numbers' order: by number, the same every
	// time.
	slices.SortFunc(numbers, func(a, b string) int {
		x, _ := s.Seq(a)
		y, _ := s.Seq(b)
		// Numbers of another prefix (an earlier ticket_prefix) have no
		// sequence here: by their text, so the order is still fixed.
		return cmp.Or(cmp.Compare(x, y), strings.Compare(a, b))
	})
	return numbers, nil
}

// PersonData returns what the desk holds about addr in tickets and
// rejection records (an access request's answer).
func (s *Store) PersonData(ctx context.Context, addr string) ([]PersonTicket, []Rejection, error) {
	who := personKey(addr)
	if who == "" {
		return nil, nil, fmt.Errorf("export %q: not an e-mail address", addr)
	}
	numbers, err := s.PersonTickets(ctx, who)
	if err != nil {
		return nil, nil, fmt.Errorf("export a person: %w", err)
	}
	out := []PersonTicket{}
	for _, n := range numbers {
		t, err := s.Get(ctx, n)
		if err != nil {
			continue // gone meanwhile
		}
		es, err := s.Events(ctx, n)
		if err != nil {
			return nil, nil, err
		}
		if personKey(t.Contact) == who {
			out = append(out, PersonTicket{Role: "contact", Ticket: t, Events: es})
			continue
		}
		own := []Event{}
		for _, e := range es {
			if sender(e.From) == who {
				own = append(own, e)
			}
		}
		out = append(out, PersonTicket{Role: "involved", Ticket: &Ticket{Number: t.Number, Customer: t.Customer, Status: t.Status,
			CreatedAt: t.CreatedAt, Participants: slices.DeleteFunc(t.Participants, func(p string) bool { return personKey(p) != who })}, Events: own})
	}
	rs := []Rejection{}
	if _, err := s.personRejections(ctx, who, func(r Rejection) { rs = append(rs, r) }); err != nil {
		return nil, nil, err
	}
	return out, rs, nil
}
