package ticket

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed append.lua
var appendSrc string

var appendScript = redis.NewScript(indexSrc + appendSrc)

// Event kinds in a ticket's history.
const (
	// EventReply is a mail from the customer's side on an existing ticket.
	EventReply = "reply"
	// EventAutoReply is an automatic answer (out of office) on a ticket: it
	// is recorded but changes nothing.
	EventAutoReply = "auto_reply"
	// EventBounce: a mail the desk sent about the ticket bounced.
	EventBounce = "bounce"
	// EventOpened: an agent opened the ticket for a contact who called or
	// came by (Event.Channel says which).
	EventOpened = "opened"
	// EventComplaint: the recipient of a mail the desk sent about the
	// ticket reported it as spam or abuse (a feedback report, ARF).
	EventComplaint = "complaint"
)

// Event is one entry of a ticket's history.
type Event struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	// From is the mail's sender, or the agent who acted ("Name <addr>").
	From      string  `json:"from"`
	MessageID string  `json:"message_id,omitempty"`
	Subject   string  `json:"subject,omitempty"`
	Text      string  `json:"text,omitempty"`
	Quoted    string  `json:"quoted,omitempty"`
	Source    *Source `json:"source,omitempty"`
	// Changes are the fields an agent (or the customer's reply) changed.
	Changes []FieldChange `json:"changes,omitempty"`
	// Channel is how the request of an EventOpened came in, or ChannelWeb
	// for a customer's reply written on the ticket's status page.
	Channel string `json:"channel,omitempty"`
	// Attachments of the mail (metadata; the bytes stay in IMAP).
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Append records a follow-up on ticket number. dedupe is the mail's
// Message-ID or content hash; a replay changes nothing. The mail's
// Message-ID becomes a key that later replies thread by.
func (s *Store) Append(ctx context.Context, dedupe, number string, e Event) (Result, error) {
	if dedupe == "" {
		return Result{}, errors.New("append to ticket: empty dedupe key")
	}
	ev, err := json.Marshal(e)
	if err != nil {
		return Result{}, fmt.Errorf("append to %s: encode event: %w", number, err)
	}
	keys := []string{s.key("seen"), s.key("t:" + number), s.key("t:" + number + ":events")}
	res, err := appendScript.Run(ctx, s.rdb, keys, dedupe, number, string(ev), e.At.UTC().Format(time.RFC3339Nano),
		s.kp, e.At.UnixMilli(), writer(e)).Slice()
	if err != nil {
		if errors.Is(scriptErr(err), ErrNotFound) {
			return Result{}, fmt.Errorf("append to %s: %w", number, ErrNotFound)
		}
		return Result{}, fmt.Errorf("append %q to %s: %w", dedupe, number, err)
	}
	out, _ := res[0].(string)
	created, _ := res[1].(int64)
	return Result{Number: out, Created: created == 1}, nil
}

// Events returns a ticket's history, oldest first.
func (s *Store) Events(ctx context.Context, number string) ([]Event, error) {
	raw, err := s.rdb.LRange(ctx, s.key("t:"+number+":events"), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read events of %s: %w", number, err)
	}
	out := make([]Event, 0, len(raw))
	for _, r := range raw {
		var e Event
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("read events of %s: %w", number, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// FindByMessageID returns the ticket that one of ids (Message-IDs without
// brackets) belongs to: a mail that made or followed up a ticket, or a mail
// the desk sent about it. The first id that is known wins; "" when none is.
func (s *Store) FindByMessageID(ctx context.Context, ids ...string) (string, error) {
	if len(ids) == 0 {
		return "", nil
	}
	// seen and the generation before it (retention rotates them).
	var cur, prev *redis.SliceCmd
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		cur = p.HMGet(ctx, s.key("seen"), ids...)
		prev = p.HMGet(ctx, s.key(seenPrev), ids...)
		return nil
	}); err != nil {
		return "", fmt.Errorf("look up message ids: %w", err)
	}
	for i := range ids {
		for _, vals := range [][]any{cur.Val(), prev.Val()} {
			if n, ok := vals[i].(string); ok && n != "" && n != "rejected" {
				return n, nil
			}
		}
	}
	return "", nil
}

// RecordSent remembers the Message-ID of a mail the desk sent about ticket
// number, so that replies to it thread even when they lose the subject tag.
func (s *Store) RecordSent(ctx context.Context, messageID, number string) error {
	if err := s.rdb.HSetNX(ctx, s.key("seen"), messageID, number).Err(); err != nil {
		return fmt.Errorf("record sent message %s of %s: %w", messageID, number, err)
	}
	return nil
}
