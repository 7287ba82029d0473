package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maildesk/maildesk/authz"
	"github.com/maildesk/maildesk/config"
	"github.com/maildesk/maildesk/internal/testserver"
	"github.com/maildesk/maildesk/mailparse"
	"github.com/maildesk/maildesk/notify"
	"github.com/maildesk/maildesk/ticket"
	"github.com/maildesk/maildesk/workflow"
)

// hostileMail is a customer's mail with script in every place a page shows:
// subject, display name, body, attachment name.
const hostileMail = "From: \"<img src=x onerror=alert(1)>\" <jan@acme.example>\r\n" +
	"Subject: Printer <script>alert('subject')</script>\r\n" +
	"Message-ID: <hostile-1@acme.example>\r\n" +
	"Content-Type: multipart/mixed; boundary=b\r\n" +
	"\r\n" +
	"--b\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"It broke <script>alert('body')</script> again.\r\n" +
	"\r\n" +
	"> earlier mail\r\n" +
	"--b\r\n" +
	"Content-Type: text/html; name=\"<script>alert('file')</script>.html\"\r\n" +
	"Content-Disposition: attachment; filename=\"<script>alert('file')</script>.html\"\r\n" +
	"\r\n" +
	"<script>alert('inside')</script>\r\n" +
	"--b\r\n" +
	"Content-Type: image/png\r\n" +
	"Content-Disposition: attachment; filename=\"screen.png\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n" +
	"--b--\r\n"

// fakeMailbox is the mailbox as Originals sees it: originals by Message-ID.
type fakeMailbox map[string]string

func (f fakeMailbox) Raw(_ context.Context, _ ticket.Source, id string, out io.Writer) error {
	raw, ok := f[id]
	if !ok {
		return errors.New("original mail not found in the desk's folders")
	}
	_, err := io.WriteString(out, raw)
	return err
}

func extractWith(lim mailparse.Limits) Extractor {
	return func(r io.Reader, part int, out io.Writer) (string, error) {
		a, err := mailparse.ExtractPart(r, lim, part, out)
		return a.SHA256, err
	}
}

// pageFixture is a desk with the tickets' pages over a real Redis.
type pageFixture struct {
	t      *testing.T
	rdb    *redis.Client
	store  *ticket.Store
	outbox *notify.Outbox
	srv    *httptest.Server
}

func newPageFixture(t *testing.T, mailbox fakeMailbox) *pageFixture {
	t.Helper()
	rs := testserver.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	outbox := notify.NewOutbox(rdb, "d")
	store := ticket.NewStore(rdb, ticket.Options{DeskID: "d", TicketPrefix: "SD", OutboxKey: outbox.Key()})
	dir := authz.NewDirectory([]config.Customer{
		{ID: "acme", Name: "Acme <b>BV</b>", Contacts: []config.Contact{{Email: "jan@acme.example", Name: "Jan \u202eJansen"}}},
	})
	now := func() time.Time { return dashNow }
	work := &workflow.Service{Store: store, Customer: dir.Customer, Authz: dir, Priority: "P3", Language: "en",
		Location: dashAms, Log: slog.New(slog.DiscardHandler), Now: now}
	dash := NewDashboard(store, dir.Customer, "Acme IT", now, dashAms, WithOpenForm(work, dir.Customers),
		WithTicketPages(TicketPages{Tickets: store, Workflow: work, Originals: mailbox, Extract: extractWith(mailparse.Limits{}),
			Agents: []string{"alice", "bob"}, Log: slog.New(slog.DiscardHandler)}))
	page := RequireToken(testTokens, dash)
	srv := httptest.NewServer(Handler(nil, nil, Mount{Pattern: "GET /{$}", Handler: page},
		Mount{Pattern: OpenPath, Handler: page}, Mount{Pattern: TicketPath, Handler: page}))
	t.Cleanup(srv.Close)
	return &pageFixture{t: t, rdb: rdb, store: store, outbox: outbox, srv: srv}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// do makes a request as a browser of an agent does; form posts come from
// the page itself unless hdr says otherwise.
func (f *pageFixture) do(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, body)
	req.SetBasicAuth("", aliceToken)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", f.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// mailTicket makes a ticket of raw as ingest would: parsed, its
// attachments recorded.
func (f *pageFixture) mailTicket(raw string) string {
	f.t.Helper()
	m, err := mailparse.Parse(strings.NewReader(raw), mailparse.Limits{})
	if err != nil {
		f.t.Fatal(err)
	}
	text, quoted := mailparse.SplitQuoted(m.Text)
	var as []ticket.Attachment
	for _, a := range m.Attachments {
		as = append(as, ticket.Attachment{Name: a.Filename, Type: a.ContentType, Size: a.Size, SHA256: a.SHA256, Part: a.Part, Inline: a.Inline})
	}
	res, err := f.store.Create(context.Background(), m.MessageID, ticket.New{
		Subject: m.Subject, Customer: "acme", Contact: "jan@acme.example", ContactName: m.From.Name, Priority: "P3",
		Language: "en", MessageID: m.MessageID, Text: text, Quoted: quoted, CreatedAt: hm(9, 0),
		Source: ticket.Source{Mailbox: "INBOX", UIDValidity: 1, UID: 7}, Attachments: as,
		Clock: &ticket.Clock{Start: hm(9, 0), FirstResponseDue: hm(13, 0), WarnAt: hm(12, 0)},
	}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return res.Number
}

var keyRE = regexp.MustCompile(`action="(/tickets/[^"]+)">\s*<fieldset>\s*<legend>[^<]*</legend>\s*<input type="hidden" name="key" value="([^"]+)">`)

// forms returns the page's forms: action path -> key.
func forms(page string) map[string]string {
	out := map[string]string{}
	for _, m := range keyRE.FindAllStringSubmatch(page, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestTicketPage: an agent reads a ticket's whole history with its
// attachments, and replies, notes and changes it from its page, through
// the workflow, each once however often the form is sent.
func TestTicketPage(t *testing.T) {
	ctx := context.Background()
	f := newPageFixture(t, fakeMailbox{"hostile-1@acme.example": hostileMail})
	number := f.mailTicket(hostileMail)

	res, page := f.do("GET", "/tickets/sd-1", nil)
	if res.StatusCode != 200 {
		t.Fatalf("page: %d\n%s", res.StatusCode, page)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	inert(t, "ticket page", page)
	for _, want := range []string{
		"<h1>SD-1: Printer &lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;</h1>",
		"It broke &lt;script&gt;alert(&#39;body&#39;)&lt;/script&gt; again.",
		"<summary>Quoted text and signature</summary><div class=\"text\">&gt; earlier mail</div>",
		`&lt;img src=x onerror=alert(1)&gt; &lt;jan@acme.example&gt;`,
		`<a href="/tickets/SD-1/mail/0/part/2" download>&lt;script&gt;alert(&#39;file&#39;)&lt;/script&gt;.html</a>`,
		`<a href="/tickets/SD-1/mail/0/part/3" download>screen.png</a> <span class="hint">(image/png, 70 bytes)</span>`,
		"Acme &lt;b&gt;BV&lt;/b&gt;",
		`<span class="clock breached">overdue 1h</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}

	// The attachments come from the original, as downloads only.
	res, body := f.do("GET", "/tickets/SD-1/mail/0/part/2", nil)
	if res.StatusCode != 200 || body != "<script>alert('inside')</script>" {
		t.Fatalf("html attachment: %d %q", res.StatusCode, body)
	}
	for h, want := range map[string]string{
		"Content-Type": "application/octet-stream", "X-Content-Type-Options": "nosniff",
		"Content-Security-Policy": "default-src 'none'; sandbox", "Content-Length": "32",
	} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("html attachment %s: %q, want %q", h, got, want)
		}
	}
	if d := res.Header.Get("Content-Disposition"); d != `attachment; filename="_script_alert('file')__script_.html"` {
		t.Errorf("Content-Disposition %q", d)
	}
	res, body = f.do("GET", "/tickets/SD-1/mail/0/part/3", nil)
	sum := sha256.Sum256([]byte(body))
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || res.Header.Get("Content-Disposition") != `attachment; filename=screen.png` ||
		!strings.HasPrefix(body, "\x89PNG") || hex.EncodeToString(sum[:]) == "" {
		t.Errorf("png: %d %v", res.StatusCode, res.Header)
	}
	// The text is no attachment; a part or mail that does not exist is none.
	for _, p := range []string{"/tickets/SD-1/mail/0/part/1", "/tickets/SD-1/mail/0/part/9", "/tickets/SD-1/mail/5/part/2", "/tickets/SD-9/mail/0/part/2", "/tickets/SD-1/mail/x/part/2"} {
		if res, _ := f.do("GET", p, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, res.StatusCode)
		}
	}

	// Reply, twice (a double click): one reply, one mail.
	fs := forms(page)
	reply := url.Values{"key": {fs["/tickets/SD-1/reply"]}, "message": {"We replaced the toner."}, "status": {"waiting_customer"}}
	for range 2 {
		res, body = f.do("POST", "/tickets/SD-1/reply", reply)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/tickets/SD-1?done=reply#history" {
			t.Fatalf("reply: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
		}
	}
	note := url.Values{"key": {fs["/tickets/SD-1/note"]}, "note": {"Toner was <b>empty</b>"}}
	for range 2 {
		if res, body = f.do("POST", "/tickets/SD-1/note", note); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("note: %d\n%s", res.StatusCode, body)
		}
	}
	set := url.Values{"key": {fs["/tickets/SD-1/set"]}, "status": {"waiting_customer"}, "priority": {"P2"}, "reason": {"whole floor"},
		"type": {"incident"}, "assignee": {"bob"}}
	for range 2 {
		if res, body = f.do("POST", "/tickets/SD-1/set", set); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("set: %d\n%s", res.StatusCode, body)
		}
	}
	// Time worked (issue 21), twice: recorded once, and the page says so.
	tw := url.Values{"key": {fs["/tickets/SD-1/time"]}, "duration": {"1:30"}, "activity": {""}, "time_note": {"toner <swap>"}}
	for range 2 {
		if res, body = f.do("POST", "/tickets/SD-1/time", tw); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("time: %d\n%s", res.StatusCode, body)
		}
	}
	if recs, err := f.store.TimeRecords(ctx, number); err != nil || len(recs) != 1 || recs[0].Minutes != 90 {
		t.Errorf("time records %+v %v, want one of 90 minutes", recs, err)
	}
	if _, body = f.do("GET", "/tickets/SD-1", nil); !strings.Contains(body, "1h30m recorded, 1h30m billable") {
		t.Errorf("the page does not show the time recorded")
	}
	if res, _ = f.do("POST", "/tickets/SD-1/time", url.Values{"key": {"k-time-2"}, "duration": {"soon"}}); res.StatusCode != http.StatusUnprocessableEntity && res.StatusCode != http.StatusBadRequest {
		t.Errorf("a duration that is none: %d", res.StatusCode)
	}
	tk, err := f.store.Get(ctx, number)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status != ticket.StatusWaitingCustomer || tk.Priority != "P2" || tk.Assignee != "bob" || tk.FirstResponseAt == nil {
		t.Errorf("ticket after the forms: %+v", tk)
	}
	events, _ := f.store.Events(ctx, number)
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind+" by "+e.From)
	}
	if got := strings.Join(kinds, ", "); got != "agent_reply by alice, note by alice, change by alice, time by alice" {
		t.Errorf("history: %s", got)
	}
	// The reply and the progress mail, each once.
	entries, err := f.outbox.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mails []string
	for _, e := range entries {
		mails = append(mails, string(e.Notification.Kind)+" to "+e.Notification.To)
	}
	if got := strings.Join(mails, ", "); got != "reply to jan@acme.example, progress to jan@acme.example" {
		t.Errorf("mails: %s", got)
	}

	_, page = f.do("GET", "/tickets/SD-1?done=set", nil)
	for _, want := range []string{"Ticket changed; the customer", "Reply: alice", "We replaced the toner.", "Internal note: alice",
		"Toner was &lt;b&gt;empty&lt;/b&gt;", "priority: P3 → P2 <span class=\"hint\">(whole floor)</span>", "assignee: (none) → bob"} {
		if !strings.Contains(page, want) {
			t.Errorf("page after the forms lacks %s", want)
		}
	}
	if _, page = f.do("GET", "/tickets/SD-1?done=<b>hacked</b>", nil); strings.Contains(page, "hacked") {
		t.Error("the page says what a link wants")
	}

	// A refused change comes back with the reason and the form as it was.
	bad := url.Values{"key": {"k-bad"}, "status": {"new"}, "priority": {"P2"}, "type": {"incident"}, "assignee": {"bob"}, "reason": {"typed"}}
	res, page = f.do("POST", "/tickets/SD-1/set", bad)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "a waiting_customer ticket cannot become new") || !strings.Contains(page, `value="typed"`) {
		t.Errorf("refused change: %d\n%s", res.StatusCode, page)
	}
	// A page of another site posting with the agent's credentials.
	res, _ = f.do("POST", "/tickets/SD-1/note", url.Values{"key": {"k-evil"}, "note": {"evil"}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if events2, _ := f.store.Events(ctx, number); res.StatusCode != http.StatusForbidden || len(events2) != len(events) {
		t.Errorf("cross-site post: %d, %d events", res.StatusCode, len(events2))
	}
	// Unknown ticket: the page says so.
	if res, page = f.do("GET", "/tickets/SD-99", nil); res.StatusCode != http.StatusNotFound || !strings.Contains(page, "There is no such ticket.") {
		t.Errorf("unknown ticket: %d\n%s", res.StatusCode, page)
	}
	// The dashboard links each ticket to its page.
	if _, page = f.do("GET", "/", nil); !strings.Contains(page, `<a href="/tickets/SD-1">SD-1</a>`) {
		t.Errorf("dashboard does not link SD-1:\n%s", page)
	}
}

// TestTicketPageAttachmentGone: an original no longer in the mailbox is an
// error page, not an empty file.
func TestTicketPageAttachmentGone(t *testing.T) {
	f := newPageFixture(t, fakeMailbox{})
	f.mailTicket(hostileMail)
	res, page := f.do("GET", "/tickets/SD-1/mail/0/part/3", nil)
	if res.StatusCode != http.StatusBadGateway || res.Header.Get("Content-Disposition") != "" || !strings.Contains(page, "could not be fetched") {
		t.Errorf("gone: %d %v\n%s", res.StatusCode, res.Header, page)
	}
}

// inert fails when a page has anything a browser would run or load: a
// script element, an event handler attribute, a javascript: URL, or a
// resource from elsewhere.
func inert(t *testing.T, what, page string) {
	t.Helper()
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<script`), regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`), regexp.MustCompile(`(?i)javascript:`),
		regexp.MustCompile(`(?i)<(img|iframe|object|embed|link|video|audio|source)\b`), regexp.MustCompile(`(?i)(src|href)="(https?:)?//`),
		regexp.MustCompile("[\u202a-\u202e\u2066-\u2069]"),
	} {
		if m := re.FindString(page); m != "" {
			t.Errorf("%s is not inert: %q", what, m)
		}
	}
	if !bytes.Contains([]byte(page), []byte("<!doctype html>")) {
		t.Errorf("%s is no page", what)
	}
}
