// Package access keeps what lets a customer's contacts see their tickets
// without an account: status links (one per mail that carries one, each
// showing one ticket to its recipient), one-time sign-in links to "My
// tickets", the sessions those open, and the rate limits on asking for
// them. Every secret is at least 128 random bits and exists only in the
// mail or cookie it was given in: Redis holds its SHA-256, so a copy of
// Redis opens nothing.
package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/address"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ticket"
)

// ErrNotFound: the secret is unknown, used, expired or revoked. Callers
// answer all of these alike, so that nobody learns which.
var ErrNotFound = errors.New("no such link")

// The paths of the customers' pages, under http.public_url.
const (
	// StatusPath + token is a ticket's status page; StatusPath alone the
	// form that asks for a sign-in link.
	StatusPath = "/s/"
	// SignInPath + token signs in to "My tickets" (once).
	SignInPath = "/s/in/"
	// MinePath is "My tickets" for a signed-in contact; MinePath + number
	// one of its tickets.
	MinePath = "/s/my/"
)

// Lifetimes of what the store hands out.
const (
	// LinkTTL bounds how long Redis keeps a status link: a ticket still
	// open after a year has had newer mails, each with a new link. The
	// page applies http.status_link_expiry after the ticket closes.
	LinkTTL = 365 * 24 * time.Hour
	// SignInTTL is how long a sign-in link works (once).
	SignInTTL = 30 * time.Minute
	// SessionTTL is how long "My tickets" stays signed in.
	SessionTTL = 8 * time.Hour
)

// Store keeps one desk's links in Redis, under config.KeyPrefix.
type Store struct {
	rdb redis.UniversalClient
	kp  string
	now func() time.Time
}

// NewStore returns the links of desk deskID; now is the clock (time.Now
// when nil).
func NewStore(rdb redis.UniversalClient, deskID string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{rdb: rdb, kp: config.KeyPrefix(deskID), now: now}
}

// Link is what a status link shows: one ticket, to one recipient.
type Link struct {
	Ticket  string
	Contact string
	Created time.Time
	// Hash identifies the link without being it (its SHA-256, hex): a
	// key for what is done through it (a reply's idempotency).
	Hash string
}

// NewSecret is a fresh secret: 130 random bits in base32, URL-safe.
func NewSecret() string { return rand.Text() }

// hash is the form a secret is stored in.
func hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// wellFormed: only what NewSecret makes is looked up.
func wellFormed(secret string) bool {
	if len(secret) != 26 {
		return false
	}
	for _, c := range secret {
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// The keys are the ticket's (package ticket defines them): retention and
// erasure remove them with the ticket or the person.
func (s *Store) linkKey(h string) string          { return s.kp + ticket.StatusLinkPrefix + h }
func (s *Store) ticketLinks(number string) string { return s.kp + ticket.StatusLinksKey(number) }
func (s *Store) contactLinks(who string) string   { return s.kp + ticket.ContactLinksPrefix + who }

// who is how a link names its contact, and the key of the contact's links:
// canonical where it can be, so that erasure of any spelling finds it.
func who(contact string) string { return address.Key(contact) }

// Mint makes a new status link showing ticket number to contact and
// returns its secret.
func (s *Store) Mint(ctx context.Context, number, contact string) (string, error) {
	secret := NewSecret()
	h := hash(secret)
	c := who(contact)
	now := s.now()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.linkKey(h), "ticket", number, "contact", c, "created", now.UTC().Format(time.RFC3339))
		p.Expire(ctx, s.linkKey(h), LinkTTL)
		p.SAdd(ctx, s.ticketLinks(number), h)
		p.Expire(ctx, s.ticketLinks(number), LinkTTL)
		// The contact's set outlives none of its links; those expired by
		// now leave it here.
		p.ZAdd(ctx, s.contactLinks(c), redis.Z{Score: float64(now.UnixMilli()), Member: h})
		p.ZRemRangeByScore(ctx, s.contactLinks(c), "-inf", "("+strconv.FormatInt(now.Add(-LinkTTL).UnixMilli(), 10))
		p.Expire(ctx, s.contactLinks(c), LinkTTL)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("make a status link for %s: %w", number, err)
	}
	return secret, nil
}

// Resolve returns what a status link shows; ErrNotFound for a secret that
// is no (longer a) link.
func (s *Store) Resolve(ctx context.Context, secret string) (Link, error) {
	if !wellFormed(secret) {
		return Link{}, ErrNotFound
	}
	h := hash(secret)
	m, err := s.rdb.HGetAll(ctx, s.linkKey(h)).Result()
	if err != nil {
		return Link{}, fmt.Errorf("read a status link: %w", err)
	}
	if m["ticket"] == "" {
		return Link{}, ErrNotFound
	}
	created, _ := time.Parse(time.RFC3339, m["created"])
	return Link{Ticket: m["ticket"], Contact: m["contact"], Created: created, Hash: h}, nil
}

// Forget removes one link (found expired by its page).
func (s *Store) Forget(ctx context.Context, l Link) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.linkKey(l.Hash))
		p.SRem(ctx, s.ticketLinks(l.Ticket), l.Hash)
		if l.Contact != "" {
			p.ZRem(ctx, s.contactLinks(l.Contact), l.Hash)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget a status link of %s: %w", l.Ticket, err)
	}
	return nil
}

// Count is how many status links of ticket number work.
func (s *Store) Count(ctx context.Context, number string) (int, error) {
	n, err := s.rdb.SCard(ctx, s.ticketLinks(number)).Result()
	if err != nil {
		return 0, fmt.Errorf("count the status links of %s: %w", number, err)
	}
	return int(n), nil
}

// revokeScript deletes every link of a ticket, their entries in their
// contacts' sets and the set that lists them, in one step.
var revokeScript = redis.NewScript(`
local hs = redis.call('SMEMBERS', KEYS[1])
for _, h in ipairs(hs) do
  local c = redis.call('HGET', ARGV[1] .. h, 'contact')
  if c and c ~= '' then redis.call('ZREM', ARGV[2] .. c, h) end
  redis.call('DEL', ARGV[1] .. h)
end
redis.call('DEL', KEYS[1])
return #hs`)

// Revoke ends every status link of ticket number and says how many; the
// next mail about it carries a new one.
func (s *Store) Revoke(ctx context.Context, number string) (int, error) {
	n, err := revokeScript.Run(ctx, s.rdb, []string{s.ticketLinks(number)}, s.linkKey(""), s.contactLinks("")).Int()
	if err != nil {
		return 0, fmt.Errorf("revoke the status links of %s: %w", number, err)
	}
	return n, nil
}

// revokeContactScript deletes every link of one contact: those in the
// contact's set, and those of the tickets given that name the contact
// (links minted before the contact's set existed), with their entries in
// their tickets' sets.
//
// KEYS[1] the contact's set; ARGV[1] the contact; ARGV[2] a link's key
// prefix; ARGV[3] that of a ticket's set of links (ARGV[3] .. number ..
// ARGV[4]); ARGV[5...] ticket numbers.
var revokeContactScript = redis.NewScript(`
local n = 0
local function drop(h, number)
  if redis.call('DEL', ARGV[2] .. h) == 1 then n = n + 1 end
  if number then redis.call('SREM', ARGV[3] .. number .. ARGV[4], h) end
end
for _, h in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  drop(h, redis.call('HGET', ARGV[2] .. h, 'ticket'))
end
redis.call('DEL', KEYS[1])
for i = 5, #ARGV do
  for _, h in ipairs(redis.call('SMEMBERS', ARGV[3] .. ARGV[i] .. ARGV[4])) do
    if redis.call('HGET', ARGV[2] .. h, 'contact') == ARGV[1] then drop(h, ARGV[i]) end
  end
end
return n`)

// RevokeContact ends every status link showing a ticket to contact (an
// erasure: a link holds the address) and says how many. tickets are the
// contact's tickets (ticket.Store.PersonTickets), searched too for links
// minted before links were listed per contact.
func (s *Store) RevokeContact(ctx context.Context, contact string, tickets []string) (int, error) {
	c := who(contact)
	// A ticket's set of links is pre + number + post.
	pre, post, _ := strings.Cut(s.ticketLinks("\x00"), "\x00")
	args := []any{c, s.linkKey(""), pre, post}
	for _, t := range tickets {
		args = append(args, t)
	}
	n, err := revokeContactScript.Run(ctx, s.rdb, []string{s.contactLinks(c)}, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("revoke the status links of a contact: %w", err)
	}
	return n, nil
}

// personSecrets is the key of a contact's sessions and unused sign-in
// links: their keys' suffixes ("session:HASH", "signin:HASH") scored by
// when they expire. Each holds the contact's address; an erasure ends them
// through it (EndSessions) rather than by a scan of every key of the desk.
func (s *Store) personSecrets(c string) string { return s.kp + "secrets:c:" + c }

// keep stores what a secret opens (name is "session:HASH" or
// "signin:HASH") for ttl and lists it under its contact.
func (s *Store) keep(ctx context.Context, name, contact string, ttl time.Duration) error {
	idx := s.personSecrets(who(contact))
	now := s.now()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.kp+name, strings.ToLower(contact), ttl)
		p.ZAdd(ctx, idx, redis.Z{Score: float64(now.Add(ttl).UnixMilli()), Member: name})
		p.ZRemRangeByScore(ctx, idx, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
		// Nothing listed lives longer than a session.
		p.Expire(ctx, idx, SessionTTL)
		return nil
	})
	return err
}

// endSecretsScript deletes what a contact's list names, and the list.
// KEYS[1] the list; ARGV[1] the key prefix.
var endSecretsScript = redis.NewScript(`
local n = 0
for _, name in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  n = n + redis.call('DEL', ARGV[1] .. name)
end
redis.call('DEL', KEYS[1])
return n`)

// EndSessions ends every session of contact and their unused sign-in
// links (an erasure: each holds the address), whatever spelling of the
// address they were opened with, and says how many. Those opened before
// sessions were listed per contact are not found; they end within
// SessionTTL.
func (s *Store) EndSessions(ctx context.Context, contact string) (int, error) {
	n, err := endSecretsScript.Run(ctx, s.rdb, []string{s.personSecrets(who(contact))}, s.kp).Int()
	if err != nil {
		return 0, fmt.Errorf("end the sessions of a contact: %w", err)
	}
	return n, nil
}

// SignIn makes a one-time sign-in link for contact and returns its secret.
func (s *Store) SignIn(ctx context.Context, contact string) (string, error) {
	secret := NewSecret()
	if err := s.keep(ctx, "signin:"+hash(secret), contact, SignInTTL); err != nil {
		return "", fmt.Errorf("make a sign-in link: %w", err)
	}
	return secret, nil
}

// UseSignIn spends a sign-in link: the contact it was for, once.
func (s *Store) UseSignIn(ctx context.Context, secret string) (string, error) {
	if !wellFormed(secret) {
		return "", ErrNotFound
	}
	name := "signin:" + hash(secret)
	contact, err := s.rdb.GetDel(ctx, s.kp+name).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", ErrNotFound
	case err != nil:
		return "", fmt.Errorf("use a sign-in link: %w", err)
	}
	// Best effort: a name left in the list names nothing and expires.
	_ = s.rdb.ZRem(ctx, s.personSecrets(who(contact)), name).Err()
	return contact, nil
}

// NewSession opens a session of "My tickets" for contact and returns its
// secret (the cookie's value).
func (s *Store) NewSession(ctx context.Context, contact string) (string, error) {
	secret := NewSecret()
	if err := s.keep(ctx, "session:"+hash(secret), contact, SessionTTL); err != nil {
		return "", fmt.Errorf("open a session: %w", err)
	}
	return secret, nil
}

// Session is the contact a session is for.
func (s *Store) Session(ctx context.Context, secret string) (string, error) {
	if !wellFormed(secret) {
		return "", ErrNotFound
	}
	contact, err := s.rdb.Get(ctx, s.kp+"session:"+hash(secret)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", ErrNotFound
	case err != nil:
		return "", fmt.Errorf("read a session: %w", err)
	}
	return contact, nil
}

// EndSession signs out.
func (s *Store) EndSession(ctx context.Context, secret string) error {
	if !wellFormed(secret) {
		return nil
	}
	if err := s.rdb.Del(ctx, s.kp+"session:"+hash(secret)).Err(); err != nil {
		return fmt.Errorf("end a session: %w", err)
	}
	return nil
}

// Allow counts one use of what key names ("signin:addr:jan@x") and
// reports whether it is within max per window. Keys are hashed: an
// address typed into a form is no Redis key of the sender's choosing.
func (s *Store) Allow(ctx context.Context, key string, max int, window time.Duration) (bool, error) {
	k := s.kp + "limit:" + hash(key)
	var n *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, k)
		p.ExpireNX(ctx, k, window)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("rate limit: %w", err)
	}
	return n.Val() <= int64(max), nil
}

// StatusURL is the address of a status link under publicURL.
func StatusURL(publicURL, secret string) string {
	return strings.TrimSuffix(publicURL, "/") + StatusPath + url.PathEscape(secret)
}

// SignInURL is the address of a sign-in link under publicURL.
func SignInURL(publicURL, secret string) string {
	return strings.TrimSuffix(publicURL, "/") + SignInPath + url.PathEscape(secret)
}
