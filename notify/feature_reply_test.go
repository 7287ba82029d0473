package notify

import (
	"strings"
	"testing"
	"time"
)

func featureReplyNote() Notification {
	return Notification{
		ID: "SD-7/feature_reply/0123456789abcdef/agent@desk.example", Kind: FeatureReply,
		To: "agent@desk.example", ToName: "Eva", Language: "nl", Ticket: "SD-7",
		Subject: "Feature request: dark mode", Customer: "Acme BV",
		ReportedBy: "Jan <jan@acme.example>", RepliedBy: "Jan <jan@acme.example>",
		Priority: "P1", PriorityLabel: "Direct",
		InReplyTo: "r2@acme.example", References: []string{"fq1@acme.example"},
		Received: time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC),
		Text:     "Dit is GEEN functieverzoek: alles ligt plat!\n\nGroet, Jan",
	}
}

// The agents' notification of a reply on a closed feature request: the
// ticket, who, the reply as a quote, and how to make it an incident; a
// subject that leads with the tag; automatic mail threaded under the
// customer's reply.
func TestRenderFeatureReply(t *testing.T) {
	for _, tt := range []struct {
		lang    string
		subject string
		has     []string
	}{
		{"nl", "[SD-7] Reactie op gesloten functieverzoek: Feature request: dark mode", []string{
			"Jan <jan@acme.example> heeft gereageerd op SD-7 van Acme BV, een gesloten functieverzoek.",
			"Prioriteit: Direct", "Contactpersoon: Jan <jan@acme.example>", "Ontvangen: maandag 7 december 2026",
			"> Dit is GEEN functieverzoek: alles ligt plat!\n>\n> Groet, Jan\n",
			"#type incident", "maildesk tickets set SD-7 type=incident"}},
		{"en", "[SD-7] Reply on a closed feature request: Feature request: dark mode", []string{
			"Jan <jan@acme.example> replied on SD-7 of Acme BV, a closed feature request.",
			"Priority: Direct", "Contact: Jan <jan@acme.example>",
			"> Dit is GEEN functieverzoek: alles ligt plat!\n>\n> Groet, Jan\n",
			"#type incident", "maildesk tickets set SD-7 type=incident"}},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			n := featureReplyNote()
			n.Language = tt.lang
			r, err := Render(testDesk, n)
			if err != nil {
				t.Fatal(err)
			}
			if r.Subject != tt.subject {
				t.Errorf("subject %q, want %q", r.Subject, tt.subject)
			}
			for _, h := range tt.has {
				if !strings.Contains(r.Text, h) {
					t.Errorf("text lacks %q:\n%s", h, r.Text)
				}
			}
			if strings.Contains(r.Text, "P1") {
				t.Errorf("text names the code, not the plan's word:\n%s", r.Text)
			}
			checkHTML(t, r.HTML, tt.lang)
			shown := htmlText(t, r.HTML)
			for _, h := range []string{"Dit is GEEN functieverzoek: alles ligt plat!", "#type incident", "maildesk tickets set SD-7 type=incident"} {
				if !strings.Contains(shown, h) {
					t.Errorf("HTML does not show %q:\n%s", h, shown)
				}
			}
			if r.Headers["Auto-Submitted"] != "auto-generated" || r.Headers["In-Reply-To"] != "<r2@acme.example>" {
				t.Errorf("headers %v", r.Headers)
			}
		})
	}
	if !FeatureReply.ToDesk() || !FeatureReply.Automatic() || FeatureReply.IsNotice() || !SLAWarning.ToDesk() || Ack.ToDesk() || Progress.ToDesk() {
		t.Error("FeatureReply is automatic mail to the desk's own people, like the SLA alerts; customers' mail is not")
	}
}

// The customer's text is shown as text: markup escaped, and control and
// format characters (a bidi override that would turn "#type incident"
// around, terminal escapes) dropped, in both parts.
func TestRenderFeatureReplyEscapes(t *testing.T) {
	n := featureReplyNote()
	n.RepliedBy = `Jan "<b>" <script>alert(1)</script>`
	n.Text = "Zie <script>alert(1)</script> & <a href=\"javascript:x\">hier</a>\n\u202egnitset\u202c \x1b[31mrood\x1b[0m\u200b"
	r, err := Render(testDesk, n)
	if err != nil {
		t.Fatal(err)
	}
	checkHTML(t, r.HTML, "nl")
	for _, raw := range []string{"<script", "<a href", "<b>"} {
		if strings.Contains(strings.ToLower(r.HTML), raw) {
			t.Errorf("HTML has raw %s:\n%s", raw, r.HTML)
		}
	}
	for _, part := range []string{r.Text, r.HTML} {
		for _, bad := range []string{"\u202e", "\u202c", "\x1b", "\u200b"} {
			if strings.Contains(part, bad) {
				t.Errorf("%q kept:\n%s", bad, part)
			}
		}
	}
	shown := htmlText(t, r.HTML)
	for _, s := range []string{"Zie <script>alert(1)</script> & <a href=\"javascript:x\">hier</a>", "gnitset [31mrood[0m", n.RepliedBy} {
		if !strings.Contains(shown, s) {
			t.Errorf("reader does not see %q:\n%s", s, shown)
		}
	}
	if !strings.Contains(r.Text, "> Zie <script>alert(1)</script>") {
		t.Errorf("text part:\n%s", r.Text)
	}
}

// The new fields survive the outbox, and a notification without text is
// refused as invalid (there is nothing to judge).
func TestFeatureReplyFieldsRoundTrip(t *testing.T) {
	n := featureReplyNote()
	v := map[string]any{}
	f := n.Fields()
	for i := 0; i < len(f); i += 2 {
		v[f[i]] = f[i+1]
	}
	got, err := FromFields(v)
	if err != nil {
		t.Fatal(err)
	}
	if got.RepliedBy != n.RepliedBy || got.ReportedBy != n.ReportedBy || got.Text != n.Text || got.PriorityLabel != "Direct" || got.Kind != FeatureReply {
		t.Errorf("round trip %+v", got)
	}
	n.Text = " \n "
	if _, err := Render(testDesk, n); err == nil {
		t.Error("a feature reply without text rendered")
	}
}
