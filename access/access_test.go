package access

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
)

func newStore(t *testing.T) (*Store, *redis.Client) {
	t.Helper()
	rs := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	return NewStore(rdb, "d", nil), rdb
}

// A status link: long and random, stored as its hash only, revocable.
func TestStatusLinks(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	a, err := s.Mint(ctx, "SD-1", "Jan@Acme.example")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Mint(ctx, "SD-1", "ann@acme.example")
	c, _ := s.Mint(ctx, "SD-2", "jan@acme.example")
	if len(a) < 26 || a == b {
		t.Fatalf("secrets %q %q", a, b)
	}
	l, err := s.Resolve(ctx, a)
	if err != nil || l.Ticket != "SD-1" || l.Contact != "jan@acme.example" || l.Hash == "" {
		t.Fatalf("resolve: %+v %v", l, err)
	}
	// Redis never holds a secret.
	keys, _ := rdb.Keys(ctx, "*").Result()
	for _, k := range keys {
		dump, _ := rdb.Dump(ctx, k).Result()
		for _, secret := range []string{a, b, c} {
			if strings.Contains(k, secret) || strings.Contains(dump, secret) {
				t.Errorf("key %s holds a secret", k)
			}
		}
		if ttl, _ := rdb.TTL(ctx, k).Result(); ttl <= 0 {
			t.Errorf("key %s lives for ever", k)
		}
	}
	// One character off: another last character than a's own.
	last := "A"
	if a[25:26] == last {
		last = "B"
	}
	for _, forged := range []string{"", "x", strings.ToLower(a), a[:25] + last, a + "A", "../../etc/passwd"} {
		if _, err := s.Resolve(ctx, forged); !errors.Is(err, ErrNotFound) {
			t.Errorf("forged %q: %v", forged, err)
		}
	}
	if n, _ := s.Count(ctx, "SD-1"); n != 2 {
		t.Errorf("count %d", n)
	}
	if n, err := s.Revoke(ctx, "SD-1"); n != 2 || err != nil {
		t.Fatalf("revoke: %d %v", n, err)
	}
	for _, secret := range []string{a, b} {
		if _, err := s.Resolve(ctx, secret); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoked link still resolves: %v", err)
		}
	}
	if _, err := s.Resolve(ctx, c); err != nil {
		t.Errorf("another ticket's link revoked too: %v", err)
	}
}

// A sign-in link works once; a session until it ends.
func TestSignInAndSession(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	in, err := s.SignIn(ctx, "Jan@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.UseSignIn(ctx, in); err != nil || c != "jan@acme.example" {
		t.Fatalf("use: %q %v", c, err)
	}
	if _, err := s.UseSignIn(ctx, in); !errors.Is(err, ErrNotFound) {
		t.Errorf("used twice: %v", err)
	}
	sess, err := s.NewSession(ctx, "jan@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.Session(ctx, sess); err != nil || c != "jan@acme.example" {
		t.Fatalf("session: %q %v", c, err)
	}
	if _, err := s.Session(ctx, in); !errors.Is(err, ErrNotFound) {
		t.Error("a sign-in link is a session")
	}
	if err := s.EndSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, sess); !errors.Is(err, ErrNotFound) {
		t.Error("session lives on after sign-out")
	}
	for i := range 4 {
		ok, err := s.Allow(ctx, "signin:jan@acme.example", 3, time.Hour)
		if err != nil || ok != (i < 3) {
			t.Errorf("attempt %d: %v %v", i+1, ok, err)
		}
	}
	if ok, _ := s.Allow(ctx, "signin:ann@acme.example", 3, time.Hour); !ok {
		t.Error("one address's limit holds another back")
	}
}

type oneTicket map[string]*ticket.Ticket

func (o oneTicket) Get(_ context.Context, n string) (*ticket.Ticket, error) {
	if t, ok := o[n]; ok {
		return t, nil
	}
	return nil, ticket.ErrNotFound
}

// Who gets a link in a mail: an authorised contact of the ticket's
// customer, on a plan with status links.
func TestMailerLink(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	off := false
	dir := authz.NewDirectory([]config.Customer{
		{ID: "acme", Name: "Acme", Contacts: []config.Contact{{Email: "jan@acme.example", Main: true}, {Email: "ann@acme.example"}}},
		{ID: "globex", Name: "Globex", Contacts: []config.Contact{{Email: "bob@globex.example"}}},
		{ID: "initech", Name: "Initech", Plan: "noportal", Contacts: []config.Contact{{Email: "pam@initech.example"}}},
	})
	m := &Mailer{Store: s, PublicURL: "https://desk.example", Authz: dir,
		Plans:   map[string]config.Plan{"standard": {}, "noportal": {StatusLink: &off}},
		Tickets: oneTicket{"SD-1": {Number: "SD-1", Customer: "acme"}, "SD-2": {Number: "SD-2", Customer: "initech"}}}
	for _, tc := range []struct {
		n    notify.Notification
		want string // prefix; "" for none
	}{
		{notify.Notification{Kind: notify.Ack, Ticket: "SD-1", To: "Jan <jan@acme.example>"}, "https://desk.example/s/"},
		{notify.Notification{Kind: notify.Progress, Ticket: "SD-1", To: "ann@acme.example"}, "https://desk.example/s/"},
		{notify.Notification{Kind: notify.AgentReply, Ticket: "SD-1", To: "bob@globex.example"}, ""}, // another customer's
		{notify.Notification{Kind: notify.Ack, Ticket: "SD-1", To: "gone@acme.example"}, ""},         // no contact (any more)
		{notify.Notification{Kind: notify.Ack, Ticket: "SD-2", To: "pam@initech.example"}, ""},       // plan without
		{notify.Notification{Kind: notify.Ack, Ticket: "SD-9", To: "jan@acme.example"}, ""},          // ticket gone
		{notify.Notification{Kind: notify.SLAWarning, Ticket: "SD-1", To: "jan@acme.example"}, ""},
		{notify.Notification{Kind: notify.SignIn, To: "jan@acme.example"}, "https://desk.example/s/in/"},
		{notify.Notification{Kind: notify.SignIn, To: "pam@initech.example"}, ""},
	} {
		got, err := m.Link(ctx, tc.n)
		if err != nil || (tc.want == "") != (got == "") || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s of %s to %s: %q %v, want %q…", tc.n.Kind, tc.n.Ticket, tc.n.To, got, err, tc.want)
		}
		if tc.n.Kind == notify.Ack && got != "" {
			l, err := s.Resolve(ctx, strings.TrimPrefix(got, "https://desk.example/s/"))
			if err != nil || l.Ticket != tc.n.Ticket || l.Contact != "jan@acme.example" {
				t.Errorf("the link shows %+v %v", l, err)
			}
		}
	}
	m.PublicURL = ""
	if got, _ := m.Link(ctx, notify.Notification{Kind: notify.Ack, Ticket: "SD-1", To: "jan@acme.example"}); got != "" {
		t.Errorf("a link without http.public_url: %q", got)
	}
}
