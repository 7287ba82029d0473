package notify

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// linkSender records the status links the mails it sends carry.
type linkSender struct {
	mu    sync.Mutex
	links map[string]string // notification id -> StatusURL
}

func (s *linkSender) Send(_ context.Context, n Notification) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.links[n.ID] = n.StatusURL
	return nil
}

// The status link is made at the send, for the kinds that carry one, and
// never written to the outbox: Redis holds only what the link maker keeps
// (its hash).
func TestDeliveryMintsStatusLinks(t *testing.T) {
	ob, rdb := newOutbox(t)
	ctx := context.Background()
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/ack", Kind: Ack, To: "jan@x", Ticket: "SD-1"})
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/reply/1", Kind: AgentReply, To: "jan@x", Ticket: "SD-1", Text: "Ok."})
	enqueue(t, rdb, ob, "", Notification{ID: "SD-1/sla_warning", Kind: SLAWarning, To: "agent@desk", Ticket: "SD-1"})
	enqueue(t, rdb, ob, "", Notification{ID: "rejection/x", Kind: Rejection, To: "x@elsewhere"})
	// A sign-in mail is about no ticket, and carries its link all the same.
	enqueue(t, rdb, ob, "", Notification{ID: "signin/1/jan@x", Kind: SignIn, To: "jan@x"})
	sender := &linkSender{links: map[string]string{}}
	var asked []string
	fail := true
	d := &Delivery{Outbox: ob, Sender: sender, Consumer: "t", StatusLink: func(_ context.Context, n Notification) (string, error) {
		if fail && n.Kind == AgentReply {
			fail = false
			return "", errors.New("redis: connection refused")
		}
		asked = append(asked, n.ID)
		return "https://desk.example/s/secret-" + n.ID, nil
	}}
	st, err := d.Drain(ctx)
	if err != nil || st.Sent != 4 || st.Failed != 1 {
		t.Fatalf("drain %+v %v", st, err)
	}
	if got := strings.Join(asked, " "); got != "SD-1/ack signin/1/jan@x" {
		t.Errorf("links made for %s, want the acknowledgement's and the sign-in's (the reply's failed)", got)
	}
	if sender.links["SD-1/ack"] != "https://desk.example/s/secret-SD-1/ack" || sender.links["SD-1/sla_warning"] != "" || sender.links["rejection/x"] != "" {
		t.Errorf("links sent: %v", sender.links)
	}
	if _, sent := sender.links["SD-1/reply/1"]; sent {
		t.Error("the reply went without its link")
	}
	// Nothing of a link in Redis: the held-back reply's entry has none.
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if dump, _ := rdb.Dump(ctx, k).Result(); strings.Contains(dump, "secret") {
			t.Errorf("key %s holds a status link", k)
		}
	}
}

// The mails that carry links say them: the customer's mails their status
// link, the agents' alerts and digest the tickets' pages.
func TestRenderLinks(t *testing.T) {
	desk := Desk{ID: "d", Name: "Desk", Address: "desk@desk.example", DefaultLanguage: "en",
		TicketURL: func(n string) string { return "https://desk.example/tickets/" + n }}
	for _, tc := range []struct {
		n    Notification
		want []string
		not  []string
	}{
		{Notification{Kind: Ack, Ticket: "SD-1", StatusURL: "https://desk.example/s/tok"}, []string{"https://desk.example/s/tok"}, []string{"/tickets/"}},
		{Notification{Kind: Progress, Ticket: "SD-1", Language: "nl", StatusURL: "https://desk.example/s/tok",
			Changes: []Change{{Field: ChangeStatus, New: "resolved"}}}, []string{"online", "https://desk.example/s/tok"}, nil},
		{Notification{Kind: AgentReply, Ticket: "SD-1", Text: "Ok.", StatusURL: "https://desk.example/s/tok"}, []string{"https://desk.example/s/tok"}, nil},
		{Notification{Kind: Ack, Ticket: "SD-1"}, nil, []string{"/s/", "online"}},
		{Notification{Kind: SLAWarning, Ticket: "SD-1", StatusURL: "https://desk.example/s/tok"}, []string{"https://desk.example/tickets/SD-1"}, []string{"/s/"}},
		{Notification{Kind: SLABreach, Ticket: "SD-1", Language: "nl"}, []string{"Open het ticket", "https://desk.example/tickets/SD-1"}, nil},
		{Notification{Kind: Digest, Items: []DigestItem{{Ticket: "SD-4", Breached: true}}}, []string{"https://desk.example/tickets/SD-4"}, nil},
		// A link that is no web address is left out.
		{Notification{Kind: Ack, Ticket: "SD-1", StatusURL: "javascript:alert(1)"}, nil, []string{"javascript"}},
	} {
		tc.n.ID, tc.n.To = "x", "jan@customer.example"
		r, err := Render(desk, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range []string{r.Text, r.HTML} {
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s lacks %q:\n%s", tc.n.Kind, w, body)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(body, w) {
					t.Errorf("%s has %q:\n%s", tc.n.Kind, w, body)
				}
			}
		}
		for i := 0; i+1 < len(tc.n.Fields()); i += 2 {
			if strings.Contains(tc.n.Fields()[i+1], "/s/tok") {
				t.Errorf("%s: the outbox entry holds the status link", tc.n.Kind)
			}
		}
	}
}
