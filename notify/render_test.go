package notify

import (
	"errors"
	"strings"
	"testing"
)

var testDesk = Desk{
	ID:              "acme-it",
	Name:            "Acme IT Servicedesk",
	Address:         "servicedesk@desk.example",
	DefaultLanguage: "nl",
}

func ackNote() Notification {
	return Notification{
		ID:        "SD-1/ack",
		Kind:      Ack,
		To:        "jan@customer.example",
		ToName:    "Jan Jansen",
		Language:  "nl",
		Ticket:    "SD-1",
		Subject:   "Printer doet het niet",
		InReplyTo: "abc.123@mail.customer.example",
		Customer:  "Customer BV",
	}
}

func rejectionNote() Notification {
	return Notification{
		ID:        "rej/0001",
		Kind:      Rejection,
		To:        "stranger@elsewhere.example",
		ToName:    "Stranger",
		Language:  "en",
		Subject:   "Urgent: server down",
		InReplyTo: "x1@elsewhere.example",
	}
}

func TestEveryKindHasEveryLanguage(t *testing.T) {
	for _, k := range kinds {
		for lang := range subjectWords {
			if templates.Lookup(templateName(k, lang)) == nil {
				t.Errorf("no template %s", templateName(k, lang))
			}
		}
	}
}

func TestRenderSubject(t *testing.T) {
	tests := []struct {
		name    string
		kind    Kind
		lang    string
		subject string
		want    string
	}{
		{"ack nl", Ack, "nl", "Printer doet het niet", "[SD-1] Printer doet het niet"},
		{"ack en", Ack, "en", "Printer broken", "[SD-1] Printer broken"},
		{"ack tag already present", Ack, "nl", "RE: [SD-1] Printer doet het niet", "RE: [SD-1] Printer doet het niet"},
		{"ack tag present other case", Ack, "nl", "Re: [sd-1] printer", "Re: [sd-1] printer"},
		{"ack other ticket tag", Ack, "en", "[SD-2] other", "[SD-1] [SD-2] other"},
		{"ack empty nl", Ack, "nl", "", "[SD-1] Uw melding"},
		{"ack empty en", Ack, "en", "  \r\n ", "[SD-1] Your request"},
		{"ack CRLF stripped", Ack, "en", "Hello\r\nBcc: x@y", "[SD-1] Hello Bcc: x@y"},
		{"rejection nl", Rejection, "nl", "Server plat", "Niet in behandeling genomen: Server plat"},
		{"rejection en", Rejection, "en", "Server down", "Not processed: Server down"},
		{"rejection empty nl", Rejection, "nl", "", "Niet in behandeling genomen"},
		{"rejection empty en", Rejection, "en", "", "Not processed"},
		{"rejection CRLF stripped", Rejection, "en", "a\nb\rc", "Not processed: a b c"},
		{"too large nl", TooLarge, "nl", "Scans", "Bericht te groot: Scans"},
		{"too large en", TooLarge, "en", "", "Message too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := ackNote()
			if tt.kind != Ack {
				n = rejectionNote()
				n.Kind = tt.kind
			}
			n.Language = tt.lang
			n.Subject = tt.subject
			r, err := Render(testDesk, n)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if r.Subject != tt.want {
				t.Errorf("subject = %q, want %q", r.Subject, tt.want)
			}
		})
	}
}

func TestRenderBody(t *testing.T) {
	secret := "my password is hunter2"
	tests := []struct {
		name     string
		note     Notification
		contains []string
		absent   []string
	}{
		{
			name:     "ack nl",
			note:     ackNote(),
			contains: []string{"SD-1", "[SD-1]", "Printer doet het niet", "Acme IT Servicedesk", "Beste Jan Jansen", "ticketnummer", "Customer BV"},
		},
		{
			name: "ack en",
			note: func() Notification {
				n := ackNote()
				n.Language, n.Subject = "en", "Printer broken"
				return n
			}(),
			contains: []string{"SD-1", "[SD-1]", "Printer broken", "Acme IT Servicedesk", "Dear Jan Jansen", "ticket number"},
		},
		{
			name: "ack without names",
			note: func() Notification {
				n := ackNote()
				n.ToName, n.Customer, n.Subject = "", "", ""
				return n
			}(),
			contains: []string{"Geachte heer/mevrouw", "SD-1", "(geen onderwerp)"},
			absent:   []string{" voor ."},
		},
		{
			name: "rejection nl",
			note: func() Notification {
				n := rejectionNote()
				n.Language, n.Subject = "nl", secret
				return n
			}(),
			contains: []string{"niet geregistreerd", "geen melding", "hoofdcontactpersoon", "accountmanager", "stranger@elsewhere.example", "Acme IT Servicedesk"},
			absent:   []string{secret},
		},
		{
			name: "rejection en",
			note: func() Notification {
				n := rejectionNote()
				n.Subject = secret
				return n
			}(),
			contains: []string{"not registered", "no ticket", "main contact", "account manager", "servicedesk@desk.example"},
			absent:   []string{secret},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Render(testDesk, tt.note)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			for _, s := range tt.contains {
				if !strings.Contains(r.Text, s) {
					t.Errorf("body lacks %q:\n%s", s, r.Text)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(r.Text, s) {
					t.Errorf("body contains %q:\n%s", s, r.Text)
				}
			}
			if strings.Contains(r.Text, "<no value>") {
				t.Errorf("body has an unfilled field:\n%s", r.Text)
			}
		})
	}
}

func TestRenderLanguage(t *testing.T) {
	tests := []struct {
		lang, deskDefault, want string
	}{
		{"nl", "en", "Beste"},
		{"en", "nl", "Dear"},
		{"NL-be", "en", "Beste"},
		{"fr", "nl", "Beste"},
		{"fr", "de", "Dear"},
		{"", "", "Dear"},
	}
	for _, tt := range tests {
		t.Run(tt.lang+"/"+tt.deskDefault, func(t *testing.T) {
			d := testDesk
			d.DefaultLanguage = tt.deskDefault
			n := ackNote()
			n.Language = tt.lang
			r, err := Render(d, n)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if !strings.HasPrefix(r.Text, tt.want) {
				t.Errorf("body starts %q, want %q", r.Text[:20], tt.want)
			}
		})
	}
}

func TestMessageID(t *testing.T) {
	a, err := Render(testDesk, ackNote())
	if err != nil {
		t.Fatal(err)
	}
	again, err := Render(testDesk, ackNote())
	if err != nil {
		t.Fatal(err)
	}
	if a.MessageID != again.MessageID {
		t.Errorf("Message-ID not stable: %q vs %q", a.MessageID, again.MessageID)
	}
	if !strings.HasPrefix(a.MessageID, "ack.sd-1.acme-it.maildesk.") || !strings.HasSuffix(a.MessageID, "@desk.example") {
		t.Errorf("Message-ID %q lacks kind/ticket/desk/marker/domain", a.MessageID)
	}

	other := ackNote()
	other.ID = "SD-1/ack2"
	b, _ := Render(testDesk, other)
	if b.MessageID == a.MessageID {
		t.Errorf("different notification ids share Message-ID %q", a.MessageID)
	}

	weird := ackNote()
	weird.Ticket = "SD 1/<x>\"@"
	d := testDesk
	d.Address = "Servicedesk <ServiceDesk@Desk.Example>"
	w, err := Render(d, weird)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := normaliseMsgID(w.MessageID); !ok {
		t.Errorf("Message-ID %q is not a dot-atom id", w.MessageID)
	}
	if !strings.Contains(w.MessageID, ".maildesk.") || !strings.HasSuffix(w.MessageID, "@desk.example") {
		t.Errorf("Message-ID %q not recognisable", w.MessageID)
	}

	rej, _ := Render(testDesk, rejectionNote())
	if !strings.HasPrefix(rej.MessageID, "rejection.") || strings.Contains(rej.MessageID, "stranger") {
		t.Errorf("rejection Message-ID %q", rej.MessageID)
	}
}

func TestFixedHeaders(t *testing.T) {
	for _, n := range []Notification{ackNote(), rejectionNote()} {
		r, err := Render(testDesk, n)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"Auto-Submitted":           "auto-replied",
			"X-Auto-Response-Suppress": "All",
			"Precedence":               "bulk",
			"X-Maildesk-Loop":          "acme-it",
		}
		for k, v := range want {
			if r.Headers[k] != v {
				t.Errorf("%s: %s = %q, want %q", n.Kind, k, r.Headers[k], v)
			}
		}
	}
}

func TestThreadingHeaders(t *testing.T) {
	tests := []struct {
		name          string
		inReplyTo     string
		refs          []string
		wantInReplyTo string
		wantRefs      string
	}{
		{"plain", "c@x.example", []string{"a@x.example", "b@x.example"}, "<c@x.example>", "<a@x.example> <b@x.example> <c@x.example>"},
		{"brackets tolerated", "<c@x.example>", []string{"<a@x.example>"}, "<c@x.example>", "<a@x.example> <c@x.example>"},
		{"duplicates and in-reply-to moved last", "a@x.example", []string{"a@x.example", "b@x.example", "b@x.example"}, "<a@x.example>", "<b@x.example> <a@x.example>"},
		{"invalid dropped", "not an id", []string{"a b@x", "<a@x>y", "no-at-sign", "a@b@c", "=?utf-8?q?caf=C3=A9?= <z@x>", "é@x.example", "ok@x.example", "a@[127.0.0.1]"}, "", "<ok@x.example>"},
		{"nothing", "", nil, "", ""},
		{"injection", "a@x.example\r\nBcc: v@x.example", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := ackNote()
			n.InReplyTo, n.References = tt.inReplyTo, tt.refs
			r, err := Render(testDesk, n)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Headers["In-Reply-To"]; got != tt.wantInReplyTo {
				t.Errorf("In-Reply-To = %q, want %q", got, tt.wantInReplyTo)
			}
			if got := r.Headers["References"]; got != tt.wantRefs {
				t.Errorf("References = %q, want %q", got, tt.wantRefs)
			}
		})
	}
}

func TestReferencesCapped(t *testing.T) {
	n := ackNote()
	n.InReplyTo = "last@x.example"
	for i := range 50 {
		n.References = append(n.References, "r"+strings.Repeat("x", i)+"@x.example")
	}
	r, err := Render(testDesk, n)
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.Fields(r.Headers["References"])
	if len(ids) != maxReferences || ids[0] != "<r@x.example>" || ids[len(ids)-1] != "<last@x.example>" {
		t.Errorf("References has %d ids, first %q, last %q", len(ids), ids[0], ids[len(ids)-1])
	}
}

func TestRenderInvalid(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*Notification, *Desk)
		permanent bool
	}{
		{"empty id", func(n *Notification, _ *Desk) { n.ID = "" }, true},
		{"unknown kind", func(n *Notification, _ *Desk) { n.Kind = "reminder" }, true},
		{"ack without ticket", func(n *Notification, _ *Desk) { n.Ticket = "" }, true},
		{"bad recipient", func(n *Notification, _ *Desk) { n.To = "jan@x.example\r\nBcc: v@x.example" }, true},
		{"no recipient", func(n *Notification, _ *Desk) { n.To = "" }, true},
		{"bad desk address", func(_ *Notification, d *Desk) { d.Address = "not an address" }, false},
		{"bad desk id", func(_ *Notification, d *Desk) { d.ID = "acme it\r\n" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, d := ackNote(), testDesk
			tt.mutate(&n, &d)
			_, err := Render(d, n)
			if err == nil {
				t.Fatal("Render succeeded")
			}
			if got := errors.Is(err, ErrInvalidNotification); got != tt.permanent {
				t.Errorf("errors.Is(ErrInvalidNotification) = %v, want %v (%v)", got, tt.permanent, err)
			}
			if IsPermanent(err) != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", !tt.permanent, tt.permanent)
			}
		})
	}
}

func TestRenderTooLargeNamesSizes(t *testing.T) {
	n := rejectionNote()
	n.Kind, n.Size, n.Limit, n.Language = TooLarge, 31_500_000, 25_000_000, "nl"
	r, err := Render(testDesk, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"31.5 MB", "25.0 MB"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("body lacks %q:\n%s", want, r.Text)
		}
	}
	back, err := FromFields(fieldsMap(n.Fields()))
	if err != nil || back.Size != n.Size || back.Limit != n.Limit || back.Kind != TooLarge {
		t.Fatalf("round trip %+v %v", back, err)
	}
}

func fieldsMap(f []string) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(f); i += 2 {
		m[f[i]] = f[i+1]
	}
	return m
}

func TestRenderAckExplainsPriorityAndFeature(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*Notification)
		contains []string
		absent   []string
	}{
		{"as asked", func(n *Notification) { n.Priority = "P2" }, []string{"Priority: P2"}, []string{"You asked"}},
		{"capped by rights", func(n *Notification) {
			n.Priority, n.RequestedPriority, n.PriorityReason = "P2", "P1", "rights"
		}, []string{"You asked for priority P1", "priority P2", "up to priority P2"}, nil},
		{"set by plan, nl", func(n *Notification) {
			n.Language, n.Priority, n.RequestedPriority, n.PriorityReason = "nl", "P3", "P1", "plan"
		}, []string{"U vroeg om prioriteit P1", "prioriteit P3", "servicecontract"}, nil},
		{"feature request", func(n *Notification) { n.Type = "feature_request" }, []string{"feature request", "closed", "no response time"}, []string{"keep you informed"}},
	}
	for _, tt := range tests {
		n := ackNote()
		n.Language = "en"
		tt.edit(&n)
		r, err := Render(testDesk, n)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for _, c := range tt.contains {
			if !strings.Contains(r.Text, c) {
				t.Errorf("%s: body lacks %q:\n%s", tt.name, c, r.Text)
			}
		}
		for _, a := range tt.absent {
			if strings.Contains(r.Text, a) {
				t.Errorf("%s: body has %q:\n%s", tt.name, a, r.Text)
			}
		}
	}
}

func TestRenderRejectionNamesMainContact(t *testing.T) {
	n := rejectionNote()
	n.Language, n.Customer, n.MainContact, n.MainContactName = "nl", "Acme BV", "jan@acme.example", "Jan Jansen"
	r, err := Render(testDesk, n)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Text, "Jan Jansen (jan@acme.example)") || !strings.Contains(r.Text, "Acme BV") {
		t.Fatalf("notice does not name the main contact:\n%s", r.Text)
	}
}

// Message-IDs are keyed by the desk's secret: stable for one secret (a
// resend keeps its id), not computable without it (no forged bounces).
func TestMessageIDKeyedBySecret(t *testing.T) {
	n := ackNote()
	a, b := testDesk, testDesk
	a.Secret, b.Secret = []byte("one secret"), []byte("another")
	idA1, _ := MessageID(a, n)
	idA2, _ := MessageID(a, n)
	idB, _ := MessageID(b, n)
	r, _ := Render(a, n)
	if idA1 != idA2 || idA1 == idB || r.MessageID != idA1 {
		t.Fatalf("ids %q %q %q render %q", idA1, idA2, idB, r.MessageID)
	}
}
