package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/access"
	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/ingest"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// customerDesk is a desk with the customers' pages over a real Redis and
// the real pipeline: Acme (Jan its main contact in Dutch, Ann in English),
// Globex, and Initech on a plan without status links.
type customerDesk struct {
	t      *testing.T
	ctx    context.Context
	rdb    *redis.Client
	store  *ticket.Store
	links  *access.Store
	outbox *notify.Outbox
	mailer *access.Mailer
	work   *workflow.Service
	pipe   *ingest.Pipeline
	now    time.Time
	srv    *httptest.Server
}

var customerDirectory = []config.Customer{
	{ID: "acme", Name: "Acme <i>BV</i>", Contacts: []config.Contact{
		{Email: "jan@acme.example", Name: "Jan \"<b>\" de Vries", Main: true, Language: "nl"},
		{Email: "ann@acme.example", Name: "Ann", Language: "en"}}},
	{ID: "globex", Name: "Globex", Contacts: []config.Contact{{Email: "bob@globex.example", Name: "Bob", Language: "en"}}},
	{ID: "initech", Name: "Initech", Plan: "noportal", Contacts: []config.Contact{{Email: "pam@initech.example"}}},
}

func newCustomerDesk(t *testing.T) *customerDesk {
	t.Helper()
	rs := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	f := &customerDesk{t: t, ctx: context.Background(), rdb: rdb, now: dashNow}
	clock := func() time.Time { return f.now }
	f.outbox = notify.NewOutbox(rdb, "d")
	f.store = ticket.NewStore(rdb, ticket.Options{DeskID: "d", TicketPrefix: "SD", OutboxKey: f.outbox.Key(), Now: clock})
	f.links = access.NewStore(rdb, "d", clock)
	dir := authz.NewDirectory(customerDirectory)
	off := false
	plans := map[string]config.Plan{"standard": {PriorityLabels: map[string]map[string]string{"nl": {"P2": "Hoog"}}}, "noportal": {StatusLink: &off}}
	f.mailer = &access.Mailer{Store: f.links, PublicURL: "https://desk.example", Plans: plans, Tickets: f.store, Authz: dir}
	f.work = &workflow.Service{Store: f.store, Customer: dir.Customer, Authz: dir, Plans: plans, Priority: "P3", Language: "en",
		Location: dashAms, Log: slog.New(slog.DiscardHandler), Now: clock}
	f.pipe = &ingest.Pipeline{Store: f.store, Threads: f.store, TicketPrefix: "SD", Authz: dir, Plans: plans, Language: "en", Priority: "P3",
		Own: ingest.Own{Address: "desk@desk.example", MessageIDDomain: "desk.example", DeskID: "d"}, Log: slog.New(slog.DiscardHandler), Now: clock}
	reply := func(ctx context.Context, from mail.Address, t *ticket.Ticket, text, key string) (WebReplyResult, error) {
		res, err := f.pipe.SubmitWeb(ctx, ingest.WebReply{From: from, Ticket: t.Number, Subject: t.Subject, InReplyTo: t.MessageID, Text: text, Key: key})
		return WebReplyResult{Ticket: res.Ticket, NewTicket: res.Outcome == ingest.Processed && !res.FollowUp, Refused: res.Outcome != ingest.Processed}, err
	}
	pages := NewCustomerPages(CustomerPages{Desk: "Acme IT <Servicedesk>", Language: "en", Location: dashAms, Now: clock, Links: f.links,
		Tickets: f.store, Authz: dir, Plans: plans, Reply: reply, Outbox: f.outbox, Expiry: 30 * 24 * time.Hour, Log: slog.New(slog.DiscardHandler)})
	f.srv = httptest.NewServer(Handler(nil, nil, Mount{Pattern: access.StatusPath, Handler: pages}))
	t.Cleanup(f.srv.Close)
	return f
}

// mail makes a ticket from raw through the pipeline.
func (f *customerDesk) mail(raw string) string {
	f.t.Helper()
	res, err := f.pipe.Process(f.ctx, strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")), ticket.Source{Mailbox: "INBOX"})
	if err != nil || res.Outcome != ingest.Processed {
		f.t.Fatalf("mail: %+v %v", res, err)
	}
	return res.Ticket
}

// link is the status link the mail of kind about number to addr carries.
func (f *customerDesk) link(kind notify.Kind, number, addr string) string {
	f.t.Helper()
	u, err := f.mailer.Link(f.ctx, notify.Notification{Kind: kind, Ticket: number, To: addr})
	if err != nil {
		f.t.Fatal(err)
	}
	return strings.TrimPrefix(u, "https://desk.example")
}

// browser is a person's browser on the pages: cookies kept, redirects not
// followed, posts from the page itself.
type browser struct {
	f      *customerDesk
	client *http.Client
	lang   string
}

func (f *customerDesk) browser(lang string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, lang: lang, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.f.srv.URL+path, body)
	req.Header.Set("Accept-Language", b.lang)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.f.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res, string(out)
}

var formKeyRE = regexp.MustCompile(`name="key" value="([^"]+)"`)

// TestStatusPage: the link in a customer's mail shows that ticket to them
// in their language, with the conversation they are part of and nothing
// of the desk's own business; they reply there, once per form.
func TestStatusPage(t *testing.T) {
	f := newCustomerDesk(t)
	number := f.mail("From: \"<script>alert('name')</script>\" <jan@acme.example>\nSubject: Printer <script>alert('subject')</script> [P2]\nMessage-ID: <c1@acme.example>\n\n" +
		"Hij doet het niet <img src=x onerror=alert(1)>.\n\n> oude mail\n")
	alice := workflow.Agent{Name: "Alice", Email: "alice@desk.example"}
	if err := f.work.Reply(f.ctx, number, alice, "Wij kijken ernaar.", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.work.Note(f.ctx, number, alice, "SECRET internal note"); err != nil {
		t.Fatal(err)
	}
	link := f.link(notify.Ack, number, "Jan <jan@acme.example>")
	if !strings.HasPrefix(link, "/s/") || len(link) < len("/s/")+26 {
		t.Fatalf("link %q", link)
	}
	jan := f.browser("en-GB,en;q=0.8") // the contact's language wins over the browser's
	res, page := jan.do("GET", link, nil)
	if res.StatusCode != 200 {
		t.Fatalf("status page: %d\n%s", res.StatusCode, page)
	}
	inert(t, "status page", page)
	for h, want := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("%s: %q", h, got)
		}
	}
	for _, want := range []string{`<html lang="nl">`, "Melding SD-1: Printer &lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt; [P2]",
		"<dt>Status</dt><dd>in behandeling</dd>", "<dt>Prioriteit</dt><dd>Hoog</dd>", "Hij doet het niet &lt;img src=x onerror=alert(1)&gt;.",
		"Geciteerde tekst", "Wij kijken ernaar.", `<span class="who">Alice</span>`, "Acme IT &lt;Servicedesk&gt;", `Jan &#34;&lt;b&gt;&#34; de Vries`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	for _, secret := range []string{"SECRET", "alice@desk.example", "Internal", "desk@desk.example"} {
		if strings.Contains(page, secret) {
			t.Errorf("page shows %q", secret)
		}
	}

	// A reply, sent twice: one reply, threaded, waiting for an agent.
	key := formKeyRE.FindStringSubmatch(page)[1]
	form := url.Values{"key": {key}, "message": {"Nog steeds <b>kapot</b>."}}
	for range 2 {
		res, body := jan.do("POST", link, form)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != link+"?done=sent#reply" {
			t.Fatalf("reply: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
		}
	}
	events, _ := f.store.Events(f.ctx, number)
	var replies int
	for _, e := range events {
		if e.Kind == ticket.EventReply {
			replies++
			if e.From != "jan@acme.example" || e.Channel != ticket.ChannelWeb || e.Text != "Nog steeds <b>kapot</b>." {
				t.Errorf("reply event %+v", e)
			}
		}
	}
	if tk, _ := f.store.Get(f.ctx, number); replies != 1 || tk.NeedsAgentSince == nil {
		t.Errorf("%d replies, needs an agent %v", replies, tk.NeedsAgentSince)
	}
	if _, page = jan.do("GET", link+"?done=sent", nil); !strings.Contains(page, "Uw reactie is aan de melding toegevoegd") ||
		!strings.Contains(page, "Nog steeds &lt;b&gt;kapot&lt;/b&gt;.") {
		t.Errorf("page after the reply:\n%s", page)
	}
	// An empty reply comes back with a reason.
	if res, page = jan.do("POST", link, url.Values{"key": {"k2"}, "message": {"  "}}); res.StatusCode != 400 || !strings.Contains(page, "Uw reactie is leeg.") {
		t.Errorf("empty reply: %d\n%s", res.StatusCode, page)
	}
	// A page of another site posting through the link is refused.
	if res, _ = jan.do("POST", link, url.Values{"key": {"k3"}, "message": {"evil"}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site reply: %d", res.StatusCode)
	}
	if ev, _ := f.store.Events(f.ctx, number); len(ev) != len(events) {
		t.Error("a refused post changed the ticket")
	}
}

// TestStatusLinksNotFound: a forged, revoked, expired link, one whose
// contact left, and one on a plan without links all give one and the same
// "not found", byte for byte.
func TestStatusLinksNotFound(t *testing.T) {
	f := newCustomerDesk(t)
	number := f.mail("From: jan@acme.example\nSubject: VPN\nMessage-ID: <v1@acme.example>\n\nkapot\n")
	other := f.mail("From: pam@initech.example\nSubject: Initech's\nMessage-ID: <i1@initech.example>\n\nx\n")
	good := f.link(notify.Ack, number, "jan@acme.example")
	revoked := f.link(notify.Progress, number, "ann@acme.example")
	if l := f.link(notify.Ack, other, "pam@initech.example"); l != "" {
		t.Fatalf("a plan without status links got one: %q", l)
	}
	// A link once valid for a customer whose plan has since switched them
	// off is made by hand.
	noportal, _ := f.links.Mint(f.ctx, other, "pam@initech.example")
	foreign, _ := f.links.Mint(f.ctx, number, "bob@globex.example") // a link of another customer's contact
	b := f.browser("en")
	if res, _ := b.do("GET", good, nil); res.StatusCode != 200 {
		t.Fatalf("good link: %d", res.StatusCode)
	}
	if n, err := f.links.Revoke(f.ctx, number); err != nil || n != 3 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	expiring := f.link(notify.Progress, number, "jan@acme.example") // the next mail's
	if _, err := f.work.Set(f.ctx, number, workflow.Agent{Name: "Alice"}, workflow.Change{Status: ticket.StatusClosed}, ""); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(31 * 24 * time.Hour)
	var first string
	for name, path := range map[string]string{
		"forged": "/s/AAAAAAAAAAAAAAAAAAAAAAAAAA", "garbage": "/s/<script>", "revoked": revoked, "expired": expiring,
		"plan without links": "/s/" + noportal, "another customer's contact": "/s/" + foreign, "no page": "/s/x/y",
	} {
		res, page := b.do("GET", path, nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", name, res.StatusCode)
		}
		if first == "" {
			first = page
			inert(t, "not found", page)
		} else if page != first {
			t.Errorf("%s: another 404 than the others:\n%s\n---\n%s", name, page, first)
		}
		if res, _ := b.do("POST", path, url.Values{"key": {"k"}, "message": {"x"}}); res.StatusCode != http.StatusNotFound {
			t.Errorf("reply through %s: %d", name, res.StatusCode)
		}
	}
	if !strings.Contains(first, "This link does not work") {
		t.Errorf("404:\n%s", first)
	}
	// An expired link is gone from Redis too.
	if n, _ := f.links.Count(f.ctx, number); n != 0 {
		t.Errorf("%d links left, want none", n)
	}
}

// TestMyTickets: a contact asks for a sign-in link (the page's answer is
// the same for any address), signs in once with it, and sees their
// tickets; a main contact sees all of the organisation's; nobody sees
// another's, and asking is rate-limited.
func TestMyTickets(t *testing.T) {
	f := newCustomerDesk(t)
	janT := f.mail("From: jan@acme.example\nSubject: Jan's printer\nMessage-ID: <j1@acme.example>\n\nx\n")
	annT := f.mail("From: ann@acme.example\nSubject: Ann's <script>laptop</script>\nMessage-ID: <a1@acme.example>\n\nx\n")
	bobT := f.mail("From: bob@globex.example\nSubject: Bob's\nMessage-ID: <b1@globex.example>\n\nx\n")
	before, _ := f.rdb.XLen(f.ctx, f.outbox.Key()).Result()

	ann := f.browser("en")
	res, page := ann.do("GET", "/s/", nil)
	if res.StatusCode != 200 || !strings.Contains(page, `<label for="email">E-mail address</label>`) {
		t.Fatalf("ask page: %d\n%s", res.StatusCode, page)
	}
	var answers []string
	for _, addr := range []string{"Ann@Acme.example", "nobody@acme.example", "stranger@evil.example", "pam@initech.example"} {
		res, page := ann.do("POST", "/s/", url.Values{"email": {addr}})
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", addr, res.StatusCode)
		}
		answers = append(answers, page)
	}
	for i, a := range answers[1:] {
		if a != answers[0] {
			t.Errorf("answer %d differs from the first:\n%s\n---\n%s", i+2, a, answers[0])
		}
	}
	entries, _ := f.outbox.List(f.ctx)
	var signins []notify.Notification
	for _, e := range entries {
		if e.Notification.Kind == notify.SignIn {
			signins = append(signins, e.Notification)
		}
	}
	if len(signins) != 1 || signins[0].To != "ann@acme.example" || signins[0].StatusURL != "" {
		t.Fatalf("sign-in mails queued: %+v (outbox had %d)", signins, before)
	}
	// Asked again and again: a few mails an hour at most.
	for range 5 {
		ann.do("POST", "/s/", url.Values{"email": {"ann@acme.example"}})
	}
	entries, _ = f.outbox.List(f.ctx)
	n := 0
	for _, e := range entries {
		if e.Notification.Kind == notify.SignIn {
			n++
		}
	}
	if n != signInPerAddress {
		t.Errorf("%d sign-in mails to one address, want %d", n, signInPerAddress)
	}

	// The link in the mail: a page with a button (a mail scanner's GET
	// spends nothing), then signed in once.
	in := f.link(notify.SignIn, "", "ann@acme.example")
	if res, page = ann.do("GET", in, nil); res.StatusCode != 200 || !strings.Contains(page, `action="`+in+`"`) {
		t.Fatalf("sign-in page: %d\n%s", res.StatusCode, page)
	}
	res, _ = ann.do("POST", in, url.Values{})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/s/my/" {
		t.Fatalf("sign in: %d %v", res.StatusCode, res.Header)
	}
	c := res.Cookies()
	if len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Path != "/s/" {
		t.Errorf("cookie %+v", c)
	}
	if res, _ = f.browser("en").do("POST", in, url.Values{}); res.StatusCode != http.StatusNotFound {
		t.Errorf("sign-in link used twice: %d", res.StatusCode)
	}
	res, page = ann.do("GET", "/s/my/", nil)
	inert(t, "my tickets", page)
	if res.StatusCode != 200 || !strings.Contains(page, annT+": Ann&#39;s &lt;script&gt;laptop&lt;/script&gt;") || strings.Contains(page, janT+":") || strings.Contains(page, bobT) ||
		!strings.Contains(page, "You see the tickets you reported or take part in.") {
		t.Errorf("Ann's tickets:\n%s", page)
	}
	if res, page = ann.do("GET", "/s/my/"+annT, nil); res.StatusCode != 200 || !strings.Contains(page, "Ticket "+annT) {
		t.Errorf("Ann's ticket: %d\n%s", res.StatusCode, page)
	}
	// Another's ticket, of her organisation or another: not found, as a
	// ticket that does not exist.
	_, none := ann.do("GET", "/s/my/SD-99", nil)
	for _, other := range []string{janT, bobT} {
		if res, page = ann.do("GET", "/s/my/"+other, nil); res.StatusCode != http.StatusNotFound || page != none {
			t.Errorf("Ann sees %s: %d", other, res.StatusCode)
		}
	}
	// She replies from there.
	_, page = ann.do("GET", "/s/my/"+annT, nil)
	key := formKeyRE.FindStringSubmatch(page)[1]
	if res, _ = ann.do("POST", "/s/my/"+annT, url.Values{"key": {key}, "message": {"Still slow."}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("reply signed in: %d", res.StatusCode)
	}
	if ev, _ := f.store.Events(f.ctx, annT); len(ev) != 1 || ev[0].From != "ann@acme.example" {
		t.Errorf("events %+v", ev)
	}

	// Jan, the main contact, sees all of Acme's, not Globex's.
	jan := f.browser("en")
	in = f.link(notify.SignIn, "", "jan@acme.example")
	jan.do("POST", in, url.Values{})
	_, page = jan.do("GET", "/s/my/", nil)
	if !strings.Contains(page, janT+":") || !strings.Contains(page, annT+":") || strings.Contains(page, bobT) || !strings.Contains(page, "U ziet alle meldingen van uw organisatie.") {
		t.Errorf("Jan's tickets:\n%s", page)
	}
	// Signed out: the session is gone.
	if res, _ = jan.do("POST", "/s/out", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("sign out: %d", res.StatusCode)
	}
	if res, _ = jan.do("GET", "/s/my/", nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/s/" {
		t.Errorf("after signing out: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

// Every language has every text.
func TestCustomerWords(t *testing.T) {
	for lang, words := range customerWords {
		for other, ow := range customerWords {
			for k := range ow {
				if words[k] == "" {
					t.Errorf("%s lacks %q (%s has it)", lang, k, other)
				}
			}
		}
	}
}

// The log never holds a customer's secret.
func TestLoggedPath(t *testing.T) {
	for in, want := range map[string]string{
		"/s/ABCDEFGHIJKLMNOPQRSTUVWXYZ": "/s/…", "/s/in/ABCDEFGHIJKLMNOPQRSTUVWXYZ": "/s/in/…", "/s/": "/s/",
		"/s/my/SD-1": "/s/my/SD-1", "/s/out": "/s/out", "/tickets/SD-1": "/tickets/SD-1",
	} {
		if got := loggedPath(in); got != want {
			t.Errorf("loggedPath(%q) = %q, want %q", in, got, want)
		}
	}
}
